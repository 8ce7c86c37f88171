import { spawn } from "node:child_process";
import { pathExists } from "../common/fsutil.js";
import { mkdirSync, writeFileSync } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { runTool } from "./exec.js";
import { traced } from "../common/trace.js";
import { errnoCode, RuntimeFailure } from "../common/errors.js";
import { resolveInRoot } from "../common/rootpath.js";
import type { StorePaths } from "../common/storepaths.js";
import { recordMountStubs } from "./mountstubs.js";
import { buildSpec, GENERATED_FILE_MOUNTS, hostsFileContent, resolvConfContent, type OciMount, type ProcessUser, type SandboxOptions } from "./ocispec.js";
import { scratchName } from "./owner.js";
import { readPasswd } from "./user.js";

export const RUNC = "/usr/sbin/runc";
export const DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
export const SANDBOX_HOSTNAME = "buildkitsandbox";

export interface ContainerSpec {
  /** A mounted rootfs (e.g. Snapshotter.mount): what the process writes lands in its upper dir. */
  rootfs: string;
  args: string[];
  env: string[];
  cwd: string;
  user: ProcessUser & { home?: string };
  network: "host" | "none";
  hostname?: string;
  /** Extra mounts (RUN --mount); their mountpoints are removed afterwards if runc had to create them. */
  mounts?: OciMount[];
  onOutput?: (stream: "stdout" | "stderr", chunk: Buffer) => void;
  /** --add-host, --shm-size, --ulimit, --security=insecure. */
  sandbox?: SandboxOptions;
  /** `run -i`: what the process reads on its standard input (none: /dev/null). */
  stdin?: NodeJS.ReadableStream;
  /** runc's name for the container (a fresh owned name when absent): `tsbuild run` records it for stop, kill, exec. */
  runcId?: string;
  /** Called once runc has been started (the caller may do other work while the container runs). */
  onStarted?: () => void;
  signal?: AbortSignal;
}

export interface ContainerResult {
  exitCode: number;
  /** Set when the process never started (e.g. `exec: "x": executable file not found in $PATH`). */
  startError?: string;
}

/**
 * Runs one process in runc over `spec.rootfs` and waits for it. The working dir is created (root-owned)
 * if missing; /etc/hosts and /etc/resolv.conf are bind-mounted read-only and their stubs removed after.
 * On abort or error the container is killed and deleted and the bundle removed before this returns.
 */
export async function runContainer(paths: StorePaths, spec: ContainerSpec): Promise<ContainerResult> {
  spec.signal?.throwIfAborted();
  const env = await withDefaultEnv(spec);
  const cwdHost = await resolveInRoot(spec.rootfs, spec.cwd);
  await mkdir(cwdHost, { recursive: true, mode: 0o755 });
  const removeStubs = await recordMountStubs(spec.rootfs, [
    ...GENERATED_FILE_MOUNTS,
    ...(spec.mounts ?? []).map((m) => m.destination),
  ]);
  const bundle = join(paths.tmp, scratchName("bundle"));
  const id = spec.runcId ?? scratchName("tsb");
  try {
    // The bundle's few small files are written with synchronous calls (each a thread-pool round trip otherwise).
    mkdirSync(bundle, { recursive: true });
    mkdirSync(paths.runcState, { recursive: true });
    const hostname = spec.hostname ?? SANDBOX_HOSTNAME;
    const hostsFile = join(bundle, "hosts");
    const resolvConfFile = join(bundle, "resolv.conf");
    writeFileSync(hostsFile, hostsFileContent(hostname, spec.sandbox?.extraHosts));
    writeFileSync(resolvConfFile, resolvConfContent(await readHostResolvConf()));
    const config = buildSpec({ ...spec, env, hostname, hostsFile, resolvConfFile });
    writeFileSync(join(bundle, "config.json"), JSON.stringify(config, null, 1));
    const exitCode = await traced("runc run", () => runRunc(paths, bundle, id, spec));
    spec.signal?.throwIfAborted();
    const startError = exitCode === 0 ? undefined : await readStartError(join(bundle, "runc.log"));
    return startError === undefined ? { exitCode } : { exitCode, startError };
  } finally {
    await allSettledOrThrow([
      () => deleteContainer(paths, id),
      () => removeStubs(),
      () => rm(bundle, { recursive: true, force: true }),
    ]);
  }
}

/** Runs every cleanup step even if an earlier one fails; then throws the first failure. */
async function allSettledOrThrow(steps: Array<() => Promise<unknown>>): Promise<void> {
  const failures: unknown[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (e) {
      failures.push(e);
    }
  }
  if (failures.length > 0) throw failures[0];
}

async function withDefaultEnv(spec: ContainerSpec): Promise<string[]> {
  const env = [...spec.env];
  const has = (name: string) => env.some((e) => e.startsWith(`${name}=`));
  if (!has("PATH")) env.unshift(DEFAULT_PATH);
  if (!has("HOME")) {
    const home = spec.user.home ?? (await readPasswd(spec.rootfs)).find((p) => p.uid === spec.user.uid)?.home;
    env.push(`HOME=${home !== undefined && home !== "" ? home : "/"}`);
  }
  return env;
}

/** runc's fatal message from its JSON log, without the "runc run failed: " prefix. */
async function readStartError(logFile: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(logFile, "utf8");
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return undefined;
    throw e;
  }
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    const entry = JSON.parse(line) as { level?: string; msg?: string };
    if (entry.level === "error" && entry.msg?.startsWith("runc run failed: ")) {
      return entry.msg.slice("runc run failed: ".length);
    }
  }
  return undefined;
}

async function readHostResolvConf(): Promise<string | undefined> {
  try {
    return await readFile("/etc/resolv.conf", "utf8");
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return undefined;
    throw e;
  }
}

function runRunc(paths: StorePaths, bundle: string, id: string, spec: ContainerSpec): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    // runc's own messages go to a log file, so the step's stderr holds only what the process printed.
    const args = ["--root", paths.runcState, "--log", join(bundle, "runc.log"), "--log-format", "json"];
    const child = spawn(RUNC, [...args, "run", "--bundle", bundle, id], {
      stdio: [spec.stdin ? "pipe" : "ignore", "pipe", "pipe"],
      cwd: bundle,
    });
    if (spec.stdin && child.stdin) {
      // the process may exit before reading all of it: a closed pipe is then not an error
      child.stdin.on("error", (e) => {
        if (errnoCode(e) !== "EPIPE" && errnoCode(e) !== "ERR_STREAM_DESTROYED") reject(new RuntimeFailure(`standard input of the container: ${e.message}`, { cause: e }));
      });
      spec.stdin.pipe(child.stdin);
    }
    let exited = false;
    child.once("spawn", () => spec.onStarted?.());
    child.stdout?.on("data", (chunk: Buffer) => spec.onOutput?.("stdout", chunk));
    child.stderr?.on("data", (chunk: Buffer) => spec.onOutput?.("stderr", chunk));
    // runc may not have created the container yet when the abort comes: keep killing until runc exits.
    const onAbort = () => {
      const tryKill = async () => {
        while (!exited) {
          await runTool(RUNC, ["--root", paths.runcState, "kill", id, "KILL"]);
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      void tryKill();
    };
    spec.signal?.addEventListener("abort", onAbort, { once: true });
    if (spec.signal?.aborted) onAbort();
    child.on("error", (e) => {
      exited = true;
      spec.signal?.removeEventListener("abort", onAbort);
      reject(new RuntimeFailure(`cannot start runc: ${e.message}`, { cause: e }));
    });
    child.on("close", (code, signal) => {
      exited = true;
      spec.signal?.removeEventListener("abort", onAbort);
      resolve(code ?? 128 + signalNumber(signal));
    });
  });
}

function signalNumber(signal: NodeJS.Signals | null): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return (signal && numbers[signal]) ?? 1;
}

/** Sends a signal (TERM, KILL, a number…) to a running container's process: `runc kill`. */
export async function signalContainer(paths: StorePaths, runcId: string, signal: string): Promise<boolean> {
  const r = await runTool(RUNC, ["--root", paths.runcState, "kill", runcId, signal]);
  return r.exitCode === 0;
}

/**
 * Runs a process in a running container (`runc exec`, the container's environment and user), with this
 * process's standard streams; resolves to its exit code.
 */
export function execInContainer(paths: StorePaths, runcId: string, args: string[], opts: { cwd: string; env: string[]; interactive: boolean }): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(RUNC, ["--root", paths.runcState, "exec", "--cwd", opts.cwd, ...opts.env.flatMap((e) => ["--env", e]), runcId, ...args], {
      stdio: [opts.interactive ? "inherit" : "ignore", "inherit", "inherit"],
    });
    child.on("error", (e) => reject(new RuntimeFailure(`cannot start runc: ${e.message}`, { cause: e })));
    child.on("close", (code, signal) => resolve(code ?? 128 + signalNumber(signal)));
  });
}

/** `runc delete -f`, tolerating a container that runc already removed (the normal case after `run`). */
export async function deleteContainer(paths: StorePaths, id: string): Promise<void> {
  // runc keeps a folder per container in its state dir: none means nothing to delete, and saves
  // spawning runc after every RUN (`runc run` removes its container when the process exits)
  if (!(await pathExists(join(paths.runcState, id)))) return;
  const r = await runTool(RUNC, ["--root", paths.runcState, "delete", "-f", id]);
  if (r.exitCode === 0) return;
  const out = r.output;
  if (/does not exist|not exist/i.test(out)) return;
  throw new RuntimeFailure(`runc delete -f ${id} failed: ${out.trim()}`);
}

