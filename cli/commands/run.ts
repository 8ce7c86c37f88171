// `tsbuild run`: a container = the image's snapshot chain + a writable layer, with a record under
// <root>/containers/<id>/ that stays after exit (unless --rm) for ps, commit and rm. The command's
// exit code becomes tsbuild's.
import { createWriteStream, existsSync } from "node:fs";
import { spawn } from "node:child_process";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { Digest } from "../../common/digest.js";
import { ArchiveError, UserError } from "../../common/errors.js";
import { storePaths, type StorePaths } from "../../common/storepaths.js";
import { ownerToken } from "../../common/owner.js";
import type { ContainerConfig } from "../../image/config.js";
import { ContentStore, type ImageRecord } from "../../image/store.js";
import { runContainer, type ContainerResult } from "../../runtime/container.js";
import {
  containerLog, findContainer, isRunning, listContainers, resetWorkDir, newContainerId, randomName, removeContainer, saveContainer, validateName, writableLayer,
  type ContainerRecord,
} from "../../runtime/containers.js";
import { unpackImageLayers } from "../../runtime/layerblob.js";
import { mountSpec } from "../../runtime/mountspec.js";
import { Snapshotter } from "../../runtime/snapshotter.js";
import { markerOf, unlinkIfExists } from "../../runtime/snapshotfiles.js";
import { scratchName } from "../../runtime/owner.js";
import { resolveUser } from "../../runtime/user.js";
import type { TerminalIO } from "../../runtime/console.js";
import { attachTerminal, checkInputTerminal } from "../userterminal.js";
import type { RunFlags } from "./runargs.js";
import { parsePlatform } from "../../image/registry/platform.js";
import { Lease } from "../../common/pins.js";


/** The process never started (no such executable, …): Docker exits 127 (not found) or 126. */
export class ContainerStartError extends UserError {
  override readonly exitCode: number;
  constructor(message: string) {
    super(message);
    this.exitCode = /not found|no such file/i.test(message) ? 127 : 126;
  }
}

/** Image Env, then -e K=V (a bare -e K takes K from tsbuild's environment, as Docker does). */
export function mergeEnv(image: string[], flags: string[]): string[] {
  const env = new Map(image.map((e) => [e.split("=", 1)[0] as string, e]));
  for (const f of flags) {
    const eq = f.indexOf("=");
    if (eq === 0) throw new UserError(`invalid environment variable: ${f}`);
    if (eq > 0) env.set(f.slice(0, eq), f);
    else if (process.env[f] !== undefined) env.set(f, `${f}=${process.env[f]}`);
    else env.delete(f);
  }
  return [...env.values()];
}

/** The effective config: Docker's rules for --entrypoint (which drops the image's CMD) and a command. */
export function containerConfig(image: ContainerConfig, command: string[], flags: RunFlags): ContainerConfig {
  const entrypoint = flags.entrypoint !== undefined ? (flags.entrypoint === "" ? [] : [flags.entrypoint]) : (image.Entrypoint ?? []);
  const cmd = command.length > 0 ? command : flags.entrypoint !== undefined ? [] : (image.Cmd ?? []);
  return {
    ...image,
    Env: mergeEnv(image.Env ?? [], flags.env ?? []),
    Entrypoint: entrypoint.length > 0 ? entrypoint : null,
    Cmd: cmd.length > 0 ? cmd : null,
    WorkingDir: flags.workdir ?? image.WorkingDir ?? "",
    User: flags.user ?? image.User ?? "",
  };
}

async function unpackImage(store: ContentStore, snap: Snapshotter, rec: ImageRecord, name: string): Promise<Digest | null> {
  try {
    return await unpackImageLayers(snap, store, rec.manifest.layers, rec.config.rootfs.diff_ids);
  } catch (e) {
    if (e instanceof ArchiveError) throw new ArchiveError(`image ${name}: ${e.message}`, { cause: e });
    throw e;
  }
}

async function pickName(paths: StorePaths, wanted: string | undefined): Promise<string> {
  const taken = new Map((await listContainers(paths)).map((c) => [c.name, c.id]));
  if (wanted === undefined) return randomName(new Set(taken.keys()));
  validateName(wanted);
  const owner = taken.get(wanted);
  if (owner !== undefined) {
    throw new UserError(`Conflict. The container name "/${wanted}" is already in use by container "${owner}". You have to remove (or rename) that container to be able to reuse that name.`);
  }
  return wanted;
}

export async function runRun(root: string, image: string, command: string[], flags: RunFlags): Promise<void> {
  const paths = storePaths(root);
  const store = await ContentStore.open(paths);
  // the image is pinned (common/pins.ts) until the container's record holds it: a prune meanwhile keeps
  // its blobs and snapshots (a failure before that drops the pin as the process exits)
  const lease = new Lease(paths);
  process.once("exit", () => lease.end());
  const rec = await lease.hold(async () => {
    const found = await store.resolveImage(image, flags.platform !== undefined ? parsePlatform(flags.platform) : undefined);
    await lease.pin("manifest", [...(found.index !== undefined ? [found.index.descriptor.digest] : []), found.manifestDigest]);
    return found;
  });
  const name = await pickName(paths, flags.name);
  for (const v of flags.volumes) {
    if (!existsSync(v.source)) throw new UserError(`invalid mount config: bind source path does not exist: ${v.source.slice(0, 200)}`);
  }
  if (flags.tty && !flags.detach) checkInputTerminal(flags.interactive === true);
  const config = containerConfig(rec.config.config ?? {}, command, flags);
  const argv = [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])];
  if (argv.length === 0) throw new UserError(`no command specified for ${image}`);
  const snap = new Snapshotter(paths);
  const parent = await unpackImage(store, snap, rec, image);
  const active = await snap.prepare(parent);
  const record: ContainerRecord = {
    id: newContainerId(), name, image, imageId: rec.configDigest, manifestDigest: rec.manifestDigest, parentChain: parent,
    snapshotId: active.id, path: argv[0] as string, args: argv.slice(1), config, created: new Date().toISOString(), state: "created",
    hostConfig: { network: flags.network, volumes: flags.volumes, autoRemove: flags.rm === true },
    ...(flags.tty ? { tty: true } : {}),
  };
  try {
    await saveContainer(paths, record);
  } catch (e) {
    await snap.remove(active);
    throw e;
  } finally {
    lease.end();
  }
  // From here the record owns the writable layer: without an owner file (nor the marker that lists
  // active snapshots for the sweep) the start-up sweep keeps it.
  await rm(join(active.dir, "owner"), { force: true });
  unlinkIfExists(markerOf(paths.snapshots, active.id));
  if (flags.detach) {
    await startDetached(root, paths, record);
    return;
  }
  let result: ContainerResult | undefined;
  const terminal = flags.tty ? attachTerminal(flags.interactive === true) : undefined;
  try {
    result = await start(paths, snap, active, record, {
      output: (stream, chunk) => void (stream === "stdout" ? process.stdout : process.stderr).write(chunk),
      ...(terminal ? { terminal: terminal.io } : flags.interactive ? { stdin: process.stdin } : {}),
    });
  } finally {
    terminal?.detach();
    if (flags.rm) await removeContainer(paths, record);
    else if (record.state === "running") {
      await saveContainer(paths, { ...record, state: "exited", exitCode: result?.exitCode ?? 137, finishedAt: new Date().toISOString() });
    }
  }
  if (result.startError !== undefined) throw new ContainerStartError(result.startError);
  process.exitCode = result.exitCode;
}

interface StartIO {
  output: (stream: "stdout" | "stderr", chunk: Buffer) => void;
  stdin?: NodeJS.ReadableStream;
  /** `-t`: the process on a pseudo-terminal, its output through `terminal.onOutput`. */
  terminal?: TerminalIO;
}

/**
 * `run -d`: a supervisor process (this CLI's hidden `container-supervise` command, detached, in its own
 * session) runs the container and keeps its output in containers/<id>/container.log and its exit code
 * in the record, after this command has printed the id and returned, as conmon does for podman.
 */
async function startDetached(root: string, paths: StorePaths, record: ContainerRecord): Promise<void> {
  await launchSupervisor(root, paths, record);
  process.stdout.write(`${record.id}\n`);
}

/** Starts the supervisor of a container and waits (30 s at most) until it has started it again. */
async function launchSupervisor(root: string, paths: StorePaths, record: ContainerRecord): Promise<void> {
  const child = spawn(process.execPath, [process.argv[1] as string, "--root", root, "container-supervise", record.id], { detached: true, stdio: "ignore" });
  child.unref();
  for (let waited = 0; waited < 30_000; waited += 50) {
    const now = await findContainer(paths, record.id);
    if (now.state !== "created" && now.startedAt !== record.startedAt) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `tsbuild start`: a stopped container runs again in the background, on its writable layer as it was left. */
export async function runStart(root: string, names: string[]): Promise<void> {
  const paths = storePaths(root);
  for (const name of names) {
    const record = await findContainer(paths, name);
    if (!isRunning(record)) await launchSupervisor(root, paths, record);
    process.stdout.write(`${name}\n`);
  }
}

/** The supervisor of a detached container: runs it to its end, its output into the container's log. */
export async function runSupervise(root: string, id: string): Promise<void> {
  const paths = storePaths(root);
  const record = await findContainer(paths, id);
  if (record.startedAt !== undefined) await resetWorkDir(paths, record); // started before: `start` again
  const log = createWriteStream(containerLog(paths, record.id), { flags: "a" });
  const snap = new Snapshotter(paths);
  let result: ContainerResult | undefined;
  // Docker's json-file log lines: one object per chunk, with its stream and time
  const output = (stream: "stdout" | "stderr", chunk: Buffer): void => void log.write(`${JSON.stringify({ log: chunk.toString("utf8"), stream, time: new Date().toISOString() })}\n`);
  try {
    // -d -t: the supervisor holds the terminal's master; what the process writes on it is stdout, as in Docker
    result = await start(paths, snap, writableLayer(paths, record), record, {
      output,
      ...(record.tty ? { terminal: { onOutput: (chunk) => output("stdout", chunk) } } : {}),
    });
  } catch (e) {
    // nobody watches a supervisor's stderr: why it could not run goes where `tsbuild logs` reads
    log.write(`${JSON.stringify({ log: `tsbuild: ${e instanceof Error ? e.message : String(e)}\n`, stream: "stderr", time: new Date().toISOString() })}\n`);
    throw e;
  } finally {
    await new Promise<void>((done) => log.end(() => done()));
    if (record.hostConfig?.autoRemove) await removeContainer(paths, record);
    else await saveContainer(paths, { ...record, state: "exited", exitCode: result?.exitCode ?? 137, finishedAt: new Date().toISOString() });
  }
}

async function start(
  paths: StorePaths, snap: Snapshotter, active: Awaited<ReturnType<Snapshotter["prepare"]>>, record: ContainerRecord, io: StartIO,
): Promise<ContainerResult> {
  const host = record.hostConfig ?? { network: "host" as const, volumes: [], autoRemove: false };
  const mounted = await mountSpec(await snap.mounts(active), paths.tmp);
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  try {
    const user = await resolveUser(mounted.rootfs, record.config.User ?? "");
    const [pid, pidStart] = ownerToken().split(".").map(Number);
    const runcId = scratchName("tsb");
    Object.assign(record, { state: "running", pid, pidStart, runcId, startedAt: new Date().toISOString() });
    await saveContainer(paths, record);
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    return await runContainer(paths, {
      rootfs: mounted.rootfs,
      args: [record.path, ...record.args],
      env: record.config.Env ?? [],
      cwd: record.config.WorkingDir || "/",
      user,
      network: host.network,
      hostname: record.id.slice(0, 12),
      runcId,
      onOutput: io.output,
      reportsStartError: true,
      ...(io.stdin ? { stdin: io.stdin } : {}),
      ...(io.terminal ? { terminal: io.terminal } : {}),
      ...(host.volumes.length > 0 ? { mounts: host.volumes.map((v) => ({ destination: v.target, type: "bind", source: v.source, options: ["rbind", v.readOnly ? "ro" : "rw"] })) } : {}),
      signal: abort.signal,
    });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await mounted.unmount();
  }
}
