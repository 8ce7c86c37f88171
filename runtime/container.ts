import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { runTool } from "./exec.js";
import { traced } from "../common/trace.js";
import { errnoCode, RuntimeFailure } from "../common/errors.js";
import { resolveInRoot } from "../common/rootpath.js";
import type { StorePaths } from "../common/storepaths.js";
import { runOnTerminal, type TerminalIO } from "./console.js";
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
  /** `run -t`: the process gets a pseudo-terminal (its output comes through `terminal.onOutput`, not onOutput). */
  terminal?: TerminalIO;
  /** runc's name for the container (a fresh owned name when absent): `tsbuild run` records it for stop, kill, exec. */
  runcId?: string;
  /**
   * The caller reports `startError` itself (`tsbuild run`): runc's own copy of it on stderr is left out
   * of the output. (A build keeps it: the step's output is where its reason shows.)
   */
  reportsStartError?: boolean;
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
 * Loads node:child_process (the bundle requires builtins on first use: ~6 ms of compiling) at a moment
 * the caller chooses, rather than on the way to the first `runc run`.
 */
export function preloadSpawn(): boolean {
  return typeof spawn === "function";
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
  mkdirSync(cwdHost, { recursive: true, mode: 0o755 });
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
    writeFileSync(resolvConfFile, resolvConfContent(readHostResolvConf()));
    const config = buildSpec({ ...spec, env, hostname, hostsFile, resolvConfFile, terminal: spec.terminal !== undefined });
    writeFileSync(join(bundle, "config.json"), JSON.stringify(config, null, 1));
    const exitCode = await traced("runc run", () => (spec.terminal ? runRuncOnTerminal(paths, bundle, id, spec, spec.terminal) : runRunc(paths, bundle, id, spec)));
    spec.signal?.throwIfAborted();
    const startError = exitCode === 0 ? undefined : await readStartError(join(bundle, "runc.log"));
    return startError === undefined ? { exitCode } : { exitCode, startError };
  } finally {
    await allSettledOrThrow([
      () => deleteContainer(paths, id),
      () => removeStubs(),
      async () => rmSync(bundle, { recursive: true, force: true }), // a few small files: no thread-pool round trips
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
async function readStartError(logFile: string, prefix = "runc run failed: "): Promise<string | undefined> {
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
    if (entry.level === "error" && entry.msg?.startsWith(prefix)) {
      return entry.msg.slice(prefix.length);
    }
  }
  return undefined;
}

function readHostResolvConf(): string | undefined {
  try {
    return readFileSync("/etc/resolv.conf", "utf8");
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return undefined;
    throw e;
  }
}

const RUNC_FATAL = Buffer.from("runc run failed: ");

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
    // runc prints its own fatal error on stderr too (the process never started, so nothing else is
    // there): it is held, and dropped when runc's log has it, since the caller reports it from there
    let runcFatal: Buffer | undefined;
    child.stderr?.on("data", (chunk: Buffer) => {
      if (spec.reportsStartError && runcFatal === undefined && chunk.subarray(0, RUNC_FATAL.length).equals(RUNC_FATAL)) runcFatal = chunk;
      else if (runcFatal !== undefined) runcFatal = Buffer.concat([runcFatal, chunk]);
      else spec.onOutput?.("stderr", chunk);
    });
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
      const exitCode = code ?? 128 + signalNumber(signal);
      if (runcFatal === undefined) return resolve(exitCode);
      const held = runcFatal;
      readStartError(join(bundle, "runc.log")).then((logged) => {
        if (logged === undefined || exitCode === 0) spec.onOutput?.("stderr", held);
        resolve(exitCode);
      }, reject);
    });
  });
}

/** Kills the container until `done` says it is gone (runc may not have created it yet when asked). */
function killUntil(paths: StorePaths, id: string, done: () => boolean): void {
  void (async () => {
    while (!done()) {
      await runTool(RUNC, ["--root", paths.runcState, "kill", id, "KILL"]);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
}

/** `runc run --detach` with a console socket: the process on a pseudo-terminal (console.ts); its exit code, or runc's if it never started. */
async function runRuncOnTerminal(paths: StorePaths, bundle: string, id: string, spec: ContainerSpec, terminal: TerminalIO): Promise<number> {
  let finished = false;
  const onAbort = (): void => killUntil(paths, id, () => finished);
  spec.signal?.addEventListener("abort", onAbort, { once: true });
  if (spec.signal?.aborted) onAbort();
  try {
    const args = ["--root", paths.runcState, "--log", join(bundle, "runc.log"), "--log-format", "json"];
    const r = await runOnTerminal(bundle, async (sock, pidFile) => {
      const launched = await runTool(RUNC, [...args, "run", "--detach", "--console-socket", sock, "--pid-file", pidFile, "--bundle", bundle, id], { cwd: bundle });
      if (launched.exitCode === 0) spec.onStarted?.();
      return launched.exitCode;
    }, terminal);
    return r.exitCode ?? r.launchCode;
  } finally {
    finished = true;
    spec.signal?.removeEventListener("abort", onAbort);
  }
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

/**
 * `exec -t`: a process in a running container on its own pseudo-terminal (`runc exec --tty --detach`
 * with a console socket); resolves to its exit code (runc's when it could not start it, with its message).
 */
export async function execOnTerminal(
  paths: StorePaths, runcId: string, args: string[], opts: { cwd: string; env: string[] }, terminal: TerminalIO,
): Promise<ContainerResult> {
  const dir = join(paths.tmp, scratchName("exec"));
  mkdirSync(dir, { recursive: true });
  try {
    const log = join(dir, "runc.log");
    const r = await runOnTerminal(dir, async (sock, pidFile) => (await runTool(RUNC, [
      "--root", paths.runcState, "--log", log, "--log-format", "json", "exec", "--tty", "--detach", "--console-socket", sock, "--pid-file", pidFile,
      "--cwd", opts.cwd, ...opts.env.flatMap((e) => ["--env", e]), runcId, ...args,
    ])).exitCode, terminal);
    if (r.exitCode !== undefined) return { exitCode: r.exitCode };
    const startError = await readStartError(log, "exec failed: ");
    return startError === undefined ? { exitCode: r.launchCode } : { exitCode: r.launchCode, startError };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `runc delete -f`, tolerating a container that runc already removed (the normal case after `run`). */
export async function deleteContainer(paths: StorePaths, id: string): Promise<void> {
  // runc keeps a folder per container in its state dir: none means nothing to delete, and saves
  // spawning runc after every RUN (`runc run` removes its container when the process exits)
  if (!existsSync(join(paths.runcState, id))) return;
  const r = await runTool(RUNC, ["--root", paths.runcState, "delete", "-f", id]);
  if (r.exitCode === 0) return;
  const out = r.output;
  if (/does not exist|not exist/i.test(out)) return;
  throw new RuntimeFailure(`runc delete -f ${id} failed: ${out.trim()}`);
}

