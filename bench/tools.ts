// The three builders the benchmark times, as commands: tsbuild, BuildKit (the oracle's dockerd, through the
// Docker CLI) and buildah (the oracle's storage), plus the set-up they share (stores, BuildKit's lock).
import { spawn } from "node:child_process";
import { access, mkdir, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { runCommand } from "./measure.js";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
// TSBUILD_BIN: time another build of tsbuild (e.g. a snapshot of one commit) with this script.
const TSBUILD = process.env.TSBUILD_BIN ?? join(REPO, "bin", "tsbuild");
const DOCKER = "/usr/bin/docker";
const ANCHORS = "/tmp/anchors";
const DOCKER_ENV = { ...process.env, DOCKER_HOST: `unix://${ANCHORS}/docker.sock`, DOCKER_BUILDKIT: "1" };
const BUILDAH = ["--storage-driver", "overlay", "--root", `${ANCHORS}/buildah`, "--runroot", `${ANCHORS}/buildah-run`];
export const BASE_ARCHIVE = `${ANCHORS}/busybox-docker.tar`;
/** The oracle's loopback registry. */
export const REGISTRY = "127.0.0.1:5000";
// tsbuild runs in the user's environment as it is: a NODE_EXTRA_CA_CERTS there (this machine sets one) is
// handed on by bin/tsbuild's launcher without Node loading it at start-up (common/netfetch.ts).
const TSBUILD_ENV: NodeJS.ProcessEnv = { ...process.env };

export type ToolName = "tsbuild" | "buildkit" | "buildah";
export interface Cmd {
  cmd: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

export const ts = (...args: string[]): Cmd => ({ cmd: TSBUILD, args, env: TSBUILD_ENV });
export const dk = (...args: string[]): Cmd => ({ cmd: DOCKER, args, env: DOCKER_ENV });
export const bh = (...args: string[]): Cmd => ({ cmd: "buildah", args: [...BUILDAH, ...args], env: process.env });

export async function run(c: Cmd): Promise<void> {
  await runCommand(c.cmd, c.args, c.env);
}

/** Runs a command whose failure is expected at times (removing what may not be there). */
export async function runQuiet(c: Cmd): Promise<void> {
  await runCommand(c.cmd, c.args, c.env).catch((e: unknown) => {
    if (!(e instanceof Error)) throw e;
  });
}

export async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch (e) {
    if (e instanceof Error && "code" in e && e.code === "ENOENT") return false;
    throw e;
  }
}

async function answers(c: Cmd): Promise<boolean> {
  try {
    await runCommand("timeout", ["10", c.cmd, ...c.args], c.env);
    return true;
  } catch (e) {
    if (e instanceof Error) return false;
    throw e;
  }
}

export const dockerAnswers = (): Promise<boolean> => answers(dk("version"));
export const buildahAnswers = (): Promise<boolean> => answers(bh("images", "-q", "busybox:local"));

/** An empty store, or one holding busybox:local. */
export async function freshRoot(root: string, scratch: string, busybox = true): Promise<void> {
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  if (!busybox) return;
  if (await exists(BASE_ARCHIVE)) {
    await run(ts("--root", root, "load", "-q", "-i", BASE_ARCHIVE));
    return;
  }
  const tar = join(scratch, "busybox-rootfs.tar");
  if (!(await exists(tar))) await runCommand(join(REPO, "testdata/busybox/make-rootfs.sh"), [tar]);
  await run(ts("--root", root, "import", tar, "busybox:local", "--change", 'CMD ["sh"]'));
}

/**
 * Holds the oracle's difftest lock until release is called: difftest runs prune BuildKit's cache per case,
 * which would turn BuildKit's cached runs into cold ones (and some scenarios prune it themselves).
 */
export async function holdBuildKitLock(): Promise<() => void> {
  const child = spawn("flock", [`${ANCHORS}/difftest.lock`, "-c", "echo locked; exec cat >/dev/null"], { stdio: ["pipe", "pipe", "inherit"] });
  await new Promise<void>((ok, fail) => {
    child.on("error", fail);
    child.on("exit", (code) => fail(new Error(`flock exited ${code}`)));
    child.stdout.once("data", () => ok());
  });
  child.removeAllListeners("exit");
  return () => child.stdin.end();
}
