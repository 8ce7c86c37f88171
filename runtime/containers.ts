// Container records (`tsbuild run`): `<root>/containers/<id>/config.json` holds what the container
// was started with, its state and the numeric id of its active snapshot (the writable layer, a
// snapshot folder without an `owner` file, so the start-up sweep leaves it alone).
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { randomHex, type Digest } from "../common/digest.js";
import { errnoCode, UserError } from "../common/errors.js";
import { atomicWriteFile } from "../common/fsutil.js";
import type { StorePaths } from "../common/storepaths.js";
import { ownerAlive, type Owner } from "../common/owner.js";
import { removeSnapshotDir } from "./snapshotfiles.js";
import type { ContainerConfig } from "../image/config.js";

export type ContainerState = "created" | "running" | "exited";

export interface ContainerRecord {
  /** 64 hex digits. */
  id: string;
  name: string;
  /** The image as the user named it (ps shows this). */
  image: string;
  imageId: Digest;
  manifestDigest: Digest;
  /** The image's top chain id (the writable layer's parent); null for an image without layers. */
  parentChain: Digest | null;
  /** The active snapshot holding the writable layer: `<root>/snapshots/<snapshotId>`. */
  snapshotId: number;
  /** The process: entrypoint + command as run. */
  path: string;
  args: string[];
  /** The effective runtime config (image config with -e, -w, -u, --entrypoint and CMD applied). */
  config: ContainerConfig;
  created: string;
  state: ContainerState;
  pid?: number;
  /** The start time of that process (common/owner.ts): a pid reused by another process is not the container's. */
  pidStart?: number;
  exitCode?: number;
  startedAt?: string;
  finishedAt?: string;
  /** runc's name for the running container (stop, kill and exec address it). */
  runcId?: string;
  /** `run -t`: the process runs on a pseudo-terminal. */
  tty?: boolean;
  /** How `run` was asked to run it, for a detached container's supervisor. */
  hostConfig?: { network: "host" | "none"; volumes: Array<{ source: string; target: string; readOnly: boolean }>; autoRemove: boolean };
}

/** A container name or id prefix that names nothing, or more than one container. */
export class NoSuchContainerError extends UserError {}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function newContainerId(): string {
  return randomHex(32);
}

const ADJECTIVES = ["admiring", "brave", "clever", "dreamy", "eager", "focused", "gallant", "happy", "jolly", "keen", "lucid", "modest", "nifty", "quirky", "serene", "vibrant"];
const SURNAMES = ["hopper", "lovelace", "turing", "knuth", "ritchie", "thompson", "liskov", "hamilton", "curie", "noether", "shannon", "dijkstra", "torvalds", "babbage", "goldberg", "wozniak"];

/** A Docker-style random name (`happy_turing`) not used yet. */
export function randomName(taken: ReadonlySet<string>): string {
  for (;;) {
    const pick = (list: string[]): string => list[Number.parseInt(randomHex(1), 16) % list.length]!;
    const name = `${pick(ADJECTIVES)}_${pick(SURNAMES)}`;
    if (!taken.has(name)) return name;
    const numbered = `${name}${Number.parseInt(randomHex(1), 16) % 10}`;
    if (!taken.has(numbered)) return numbered;
  }
}

export function validateName(name: string): void {
  if (!NAME_RE.test(name)) throw new UserError(`invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
}

function recordFile(paths: StorePaths, id: string): string {
  return join(paths.containers, id, "config.json");
}

export async function saveContainer(paths: StorePaths, rec: ContainerRecord): Promise<void> {
  await atomicWriteFile(recordFile(paths, rec.id), JSON.stringify(rec, null, 2), 0o644, paths.tmp);
}

/** Every container record, newest first. */
export async function listContainers(paths: StorePaths): Promise<ContainerRecord[]> {
  let names: string[];
  try {
    names = await readdir(paths.containers);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return [];
    throw e;
  }
  const out: ContainerRecord[] = [];
  for (const id of names) {
    if (!/^[a-f0-9]{64}$/.test(id)) continue;
    try {
      out.push(JSON.parse(await readFile(recordFile(paths, id), "utf8")) as ContainerRecord);
    } catch (e) {
      if (errnoCode(e) === "ENOENT") continue; // being created or removed
      throw e;
    }
  }
  return out.sort((a, b) => b.created.localeCompare(a.created));
}

/** Finds a container by exact name, full id or unique id prefix, as Docker does. */
export async function findContainer(paths: StorePaths, nameOrId: string): Promise<ContainerRecord> {
  const all = await listContainers(paths);
  const exact = all.find((c) => c.id === nameOrId || c.name === nameOrId || `/${c.name}` === nameOrId);
  if (exact) return exact;
  const byPrefix = /^[a-f0-9]+$/.test(nameOrId) ? all.filter((c) => c.id.startsWith(nameOrId)) : [];
  if (byPrefix.length > 1) throw new NoSuchContainerError(`multiple containers found with provided prefix: ${nameOrId}`);
  const hit = byPrefix[0];
  if (!hit) throw new NoSuchContainerError(`No such container: ${nameOrId}`);
  return hit;
}

/** Whether the container's process may still be running (state running and its process alive). */
export function isRunning(rec: ContainerRecord): boolean {
  const owner = runOwner(rec);
  return owner !== undefined && ownerAlive(owner);
}

/** The `tsbuild run` process of a running container (pid and start time; a record of an older tsbuild has the pid only). */
export function runOwner(rec: ContainerRecord): Owner | undefined {
  if (rec.state !== "running" || rec.pid === undefined) return undefined;
  return { pid: rec.pid, start: rec.pidStart };
}

/** The writable layer's folders (the snapshot's overlay upper and work dirs). */
export function writableLayer(paths: StorePaths, rec: ContainerRecord): { id: number; dir: string; upper: string; work: string; parent: Digest | null } {
  const dir = join(paths.snapshots, String(rec.snapshotId));
  return { id: rec.snapshotId, dir, upper: join(dir, "fs"), work: join(dir, "work"), parent: rec.parentChain };
}

/**
 * Empties the writable layer's overlay work dir before it is mounted again (`start` after an exit):
 * the container's `volatile` mount leaves work/incompat/volatile, which makes overlayfs refuse the next
 * mount of that work dir. The upper dir, the container's files, is untouched.
 */
export async function resetWorkDir(paths: StorePaths, rec: ContainerRecord): Promise<void> {
  const { work } = writableLayer(paths, rec);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { mode: 0o700 });
}

/** A detached container's output, Docker's json-file lines (`{"log","stream","time"}`), beside its record. */
export function containerLog(paths: StorePaths, id: string): string {
  return join(paths.containers, id, "container.log");
}

/** Removes the record and the writable layer. */
export async function removeContainer(paths: StorePaths, rec: ContainerRecord): Promise<void> {
  await removeSnapshotDir(writableLayer(paths, rec).dir, paths.tmp); // renamed away first, as the snapshotter does
  await rm(join(paths.containers, rec.id), { recursive: true, force: true });
}
