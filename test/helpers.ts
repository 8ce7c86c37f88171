// Helpers for the integration tests: run bin/tsbuild as a user would, make a fresh store holding the
// offline busybox base (the same image as the oracle's busybox:local), read the test cases.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { chmodSync, closeSync, existsSync, openSync, readFileSync, readSync, readdirSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Json } from "./imgtree.js";
import { assertRunnable } from "../runtime/platform.js";
import { storePaths } from "../common/storepaths.js";
import { chainIds } from "../image/config.js";
import { ContentStore } from "../image/store.js";
import { Snapshotter } from "../runtime/snapshotter.js";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * Why arm64 cannot run here, or undefined: `make test` registers qemu-user-static's binfmt_misc handler
 * where the host allows it, and says so where it does not; then only the emulation tests are skipped.
 */
export const ARM64_EMULATION_MISSING: string | undefined = (() => {
  try {
    assertRunnable({ os: "linux", architecture: "arm64" });
    return undefined;
  } catch (e) {
    return `no arm64 emulation on this host (${e instanceof Error ? e.message : String(e)})`;
  }
})();
export const TSBUILD = join(REPO, "bin", "tsbuild");
export const OWN_CASES = join(REPO, "testdata", "cases");
export const PUBLIC_CASES = resolve(REPO, "..", "shared", "cases");
export const PUBLIC_EXPECTED = join(OWN_CASES, "public-expected");

// The servers tests start are on loopback: a proxy the machine sets (CI's HTTP(S)_PROXY) must not carry
// their traffic, for tsbuild's fetches nor for the git and curl they run. Tests of proxies set their own.
for (const k of ["NO_PROXY", "no_proxy"]) {
  const v = process.env[k] ?? "";
  if (!/(^|,)\s*127\.0\.0\.1\s*(,|$)/.test(v)) process.env[k] = [v, "127.0.0.1", "localhost"].filter((x) => x !== "").join(",");
}

export interface RunResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** Starts bin/tsbuild (node, no shell); the caller owns the process. */
export function startTsbuild(args: string[], opts: { cwd?: string } = {}): ChildProcess {
  return spawn(process.execPath, [TSBUILD, ...args], { cwd: opts.cwd ?? REPO, stdio: ["ignore", "pipe", "pipe"] });
}

export function tsbuild(args: string[], opts: { cwd?: string } = {}): Promise<RunResult> {
  const child = startTsbuild(args, opts);
  return collect(child);
}

export function collect(child: ChildProcess): Promise<RunResult> {
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (s: string) => { stdout += s; });
  child.stderr?.setEncoding("utf8").on("data", (s: string) => { stderr += s; });
  return new Promise((done, fail) => {
    child.on("error", fail);
    child.on("close", (code, signal) => done({ code, signal, stdout, stderr }));
  });
}

/** Throws with the command's output when it did not exit 0. */
export async function tsbuildOk(args: string[]): Promise<RunResult> {
  const r = await tsbuild(args);
  if (r.code !== 0) throw new Error(`tsbuild ${args.join(" ")} -> ${r.code}\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
  return r;
}

/**
 * Gives a copied case folder the modes its recorded result was made with, whatever the modes of the
 * folder it was copied from (CI lays ../shared without write bits, a `cp -r` or a checkout under
 * another umask gives others): git's two kinds of file, executable or not, and folders; without write
 * bits for the public cases (recorded from ../shared as CI lays it), with them for our own.
 */
export function setCaseModes(dir: string, readOnly: boolean): void {
  const [exec, plain] = readOnly ? [0o555, 0o444] : [0o755, 0o644];
  const walk = (path: string): void => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const child = join(path, entry.name);
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile()) chmodSync(child, (statSync(child).mode & 0o111) !== 0 ? exec : plain);
    }
    chmodSync(path, exec);
  };
  walk(dir);
}

let rootfsTar: Promise<string> | undefined;

/** The busybox rootfs tar from testdata/busybox/make-rootfs.sh, made once per test process. */
export function busyboxRootfs(): Promise<string> {
  rootfsTar ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), "tsbuild-test-rootfs-"));
    process.on("exit", () => execFileSync("rm", ["-rf", dir]));
    const out = join(dir, "busybox-rootfs.tar");
    execFileSync(join(REPO, "testdata", "busybox", "make-rootfs.sh"), [out]);
    return out;
  })();
  return rootfsTar;
}

export const BUSYBOX_CHANGES = ["--change", 'CMD ["sh"]', "--change",
  "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"];

/** A fresh store (in a temp dir) holding busybox:local; remove it with removeStore. */
export async function freshStore(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "tsbuild-test-store-"));
  try {
    await tsbuildOk(["--root", root, "import", await busyboxRootfs(), "busybox:local", ...BUSYBOX_CHANGES]);
  } catch (e) {
    await rm(root, { recursive: true, force: true });
    throw e;
  }
  return root;
}

/**
 * Takes away the snapshots of an image's layers, as a pulled image has none yet (import and load
 * unpack what they bring): its next use unpacks it from its blobs.
 */
export async function packImage(root: string, ref: string): Promise<void> {
  const paths = storePaths(root);
  const rec = await (await ContentStore.open(paths)).resolveImage(ref);
  const snapshots = new Snapshotter(paths);
  for (const chain of chainIds(rec.config.rootfs.diff_ids).reverse()) if (await snapshots.has(chain)) await snapshots.removeCommitted(chain);
}

/** Mount points under `dir` in /proc/self/mountinfo (mountinfo escapes spaces as \040). */
export function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8").split("\n")
    .map((l) => (l.split(" ")[4] ?? "").replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((m) => m === dir || m.startsWith(dir + "/"));
}

/** Removes a test store: leftover runc containers and mounts first (a killed build may leave them). */
export async function removeStore(root: string): Promise<void> {
  if (existsSync(join(root, "runc"))) {
    const ids = execFileSync("/usr/sbin/runc", ["--root", join(root, "runc"), "list", "-q"], { encoding: "utf8" });
    for (const id of ids.split("\n").filter(Boolean)) {
      execFileSync("/usr/sbin/runc", ["--root", join(root, "runc"), "delete", "-f", id]);
    }
  }
  for (const m of mountsUnder(root).reverse()) execFileSync("umount", ["-l", m]);
  await rm(root, { recursive: true, force: true });
}

export interface StoreListing { index: string; blobs: Map<string, number> }

/** index.json and the names and sizes of blobs/: what a failed build must leave as it was. */
export function storeListing(root: string): StoreListing {
  const blobs = new Map<string, number>();
  const dir = join(root, "blobs", "sha256");
  for (const name of readdirSync(dir).sort()) blobs.set(name, statSync(join(dir, name)).size);
  return { index: readFileSync(join(root, "index.json"), "utf8"), blobs };
}

/** Blobs in `after` that `before` did not have. Throws if index.json changed or a blob went or changed. */
export function storeGrowth(before: StoreListing, after: StoreListing): string[] {
  if (before.index !== after.index) throw new Error(`index.json changed:\n${before.index}\n---\n${after.index}`);
  for (const [name, size] of before.blobs) {
    if (after.blobs.get(name) !== size) throw new Error(`blob ${name} removed or changed`);
  }
  return [...after.blobs.keys()].filter((n) => !before.blobs.has(n));
}

/** True when the blob is an uncompressed tar (a layer), by the ustar magic at offset 257. */
export function isLayerTar(root: string, name: string): boolean {
  const fd = openSync(join(root, "blobs", "sha256", name), "r");
  try {
    const b = Buffer.alloc(5);
    return readSync(fd, b, 0, 5, 257) === 5 && b.toString("latin1") === "ustar";
  } finally {
    closeSync(fd);
  }
}

export interface CaseStep { run?: string; build_args?: Record<string, string>; expect_reason?: string }
export interface CaseSpec {
  dockerfile: string; context: string; target?: string; build_args: Record<string, string>;
  sequence: CaseStep[]; expect_fail?: boolean;
}

/** case.json with difftest.py's defaults. */
export function loadCase(dir: string): CaseSpec {
  const file = join(dir, "case.json");
  const raw = (existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {}) as Partial<CaseSpec>;
  return {
    ...raw,
    dockerfile: raw.dockerfile ?? "Dockerfile",
    context: raw.context ?? (existsSync(join(dir, "ctx")) ? "ctx" : "."),
    build_args: raw.build_args ?? {},
    sequence: raw.sequence ?? [{}],
  };
}

/** Case folders (those holding a Dockerfile) under `parent`, sorted; none when it does not exist. */
export function caseDirs(parent: string): string[] {
  if (!existsSync(parent)) return [];
  return readdirSync(parent).sort().map((n) => join(parent, n))
    .filter((d) => existsSync(join(d, "Dockerfile")));
}

export type CachePattern = Record<string, [string, boolean][]>;

const FS_STEPS = new Set(["RUN", "COPY", "ADD", "WORKDIR"]);

/** Per stage, the ordered (keyword, cached) of filesystem steps in a build report, as difftest.py keys it. */
export function cachePattern(report: { steps?: { stage?: unknown; instruction?: unknown; cached?: unknown }[] }): CachePattern {
  const by: CachePattern = {};
  for (const s of report.steps ?? []) {
    const text = String(s.instruction ?? "").replace(/\\\n/g, " ").replace(/\s+/g, " ").trim();
    const kw = (text.split(" ")[0] ?? "").toUpperCase();
    if (!FS_STEPS.has(kw)) continue;
    (by[String(s.stage)] ??= []).push([kw, Boolean(s.cached)]);
  }
  const stages = Object.keys(by);
  if (stages.length === 1) return { only: by[stages[0]!]! };
  return Object.fromEntries(stages.sort().map((k) => [k, by[k]!]));
}

export interface Expected {
  config: Record<string, Json>; files: Record<string, Record<string, string | number | number[]>>;
  /** BuildKit's history (recorded since the history comparison; older recordings lack it). */
  history?: Array<{ created_by: string; empty_layer: boolean }>;
  expected_cache?: CachePattern[]; expect_fail?: boolean;
}

export function readExpected(file: string): Expected {
  return JSON.parse(readFileSync(file, "utf8")) as Expected;
}
