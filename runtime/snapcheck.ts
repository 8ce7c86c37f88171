// The runtime's part of `system check`: snapshots against their chain IDs, parents and dirs; snapshots
// nothing references; and what dead processes left (scratch, mounts, runc containers, lock files and
// markers, temporary files of atomic writes), which the sweep would remove: the check names each.
import { existsSync, statSync } from "node:fs";
import { readFile, readlink, rm } from "node:fs/promises";
import { join, relative } from "node:path";
import { digestHex, isDigest, type Digest } from "../common/digest.js";
import { errnoCode } from "../common/errors.js";
import { listDirIfExists } from "../common/fsutil.js";
import { ownerIsGone } from "../common/lock.js";
import { deadOwned, ownerAlive, ownerOfName, parseOwnerToken } from "../common/owner.js";
import type { CheckResult, StoreProblem } from "../common/storecheck.js";
import type { StorePaths } from "../common/storepaths.js";
import { deleteContainer } from "./container.js";
import { listContainers } from "./containers.js";
import { mountsUnder, unmount } from "./mounts.js";
import { activeMarkersDir, removeSnapshotDir } from "./snapshotfiles.js";

interface Meta {
  chainId: Digest;
  parent: Digest | null;
  lowers: number[];
}

/** A temporary file kept there by an older tsbuild (no owner in its name) counts as left over after this long. */
const UNOWNED_AGE_MS = 3_600_000;

export interface SnapshotCheck extends CheckResult {
  /** Chain IDs published and sound (a cache entry pointing elsewhere is broken). */
  published: Set<Digest>;
}

/**
 * Committed snapshots: each chain link points at a folder whose meta names that chain, whose parent is
 * published and whose dirs exist; each committed folder is published; each one is used by something
 * in `referenced` (chain IDs of images, cache entries and containers) or under it. Active ones: owned by
 * a live process or a container.
 */
export async function checkSnapshots(paths: StorePaths, referenced: ReadonlySet<Digest>): Promise<SnapshotCheck> {
  const problems: StoreProblem[] = [];
  const dir = paths.snapshots;
  const rel = (p: string): string => relative(paths.root, p);
  const metas = new Map<number, Meta>();
  const actives: number[] = [];
  for (const name of await listDirIfExists(dir)) {
    if (!/^\d+$/.test(name)) continue;
    const meta = await readMeta(join(dir, name, "meta.json"));
    if (meta === undefined) actives.push(Number(name));
    else if (meta === "damaged") problems.push({ line: `${rel(join(dir, name, "meta.json"))}: damaged` });
    else metas.set(Number(name), meta);
  }
  // chain links
  const published = new Map<Digest, number>();
  const chainsDir = join(dir, "chains");
  for (const hex of await listDirIfExists(chainsDir)) {
    const link = join(chainsDir, hex);
    const target = await linkTarget(link);
    const m = /^\.\.\/(\d+)$/.exec(target);
    const meta = m === null ? undefined : metas.get(Number(m[1]));
    if (m === null || meta === undefined || meta.chainId !== `sha256:${hex}`) {
      const why = m === null ? "not a snapshot link" : meta === undefined ? `points to ${target}, which is not a committed snapshot` : `points to ${target}, which is ${meta.chainId}`;
      problems.push({ line: `${rel(link)}: ${why}`, repair: () => removed(link) });
      continue;
    }
    published.set(meta.chainId, Number(m[1]));
  }
  const sound = new Set<Digest>();
  for (const [id, meta] of metas) {
    const where = `${rel(join(dir, String(id)))} (${meta.chainId})`;
    if (published.get(meta.chainId) !== id) {
      const usedBy = [...metas].some(([other, m]) => other !== id && m.lowers.includes(id));
      problems.push({
        line: `${where}: committed but not published (no chain link names it)`,
        ...(usedBy ? {} : { repair: () => removedDir(join(dir, String(id)), paths) }),
      });
      continue;
    }
    const missing = meta.lowers.filter((n) => !existsSync(join(dir, String(n), "fs")));
    if (missing.length > 0) problems.push({ line: `${where}: missing dirs ${missing.map((n) => `${n}/fs`).join(", ")}` });
    else if (meta.parent !== null && !published.has(meta.parent)) problems.push({ line: `${where}: its parent ${meta.parent} is missing` });
    else sound.add(meta.chainId);
  }
  // what nothing references: not an image's, a cache entry's or a container's, nor under one of those
  const used = new Set<number>();
  for (const chain of referenced) for (const n of metas.get(published.get(chain) ?? -1)?.lowers ?? []) used.add(n);
  const unused = [...published].filter(([, id]) => !used.has(id));
  for (const [chain, id] of unused) {
    // every snapshot on an unused one is unused too (a parent is used with its child), so all can go
    problems.push({ line: `${rel(join(dir, String(id)))} (${chain}): nothing references it`, repair: async () => {
      await rm(join(chainsDir, digestHex(chain)), { force: true });
      return removedDir(join(dir, String(id)), paths);
    } });
  }
  problems.push(...(await checkActive(paths, actives, metas)));
  return { problems, counts: { snapshots: metas.size }, published: sound };
}

/** Active snapshots (no meta) and their markers: a dead owner's, or nobody's, are left over. */
async function checkActive(paths: StorePaths, actives: number[], metas: ReadonlyMap<number, Meta>): Promise<StoreProblem[]> {
  const problems: StoreProblem[] = [];
  const markers = activeMarkersDir(paths.snapshots);
  const containerLayers = new Set((await listContainers(paths)).map((c) => c.snapshotId));
  for (const id of actives) {
    const folder = join(paths.snapshots, String(id));
    const ownerFile = join(folder, "owner");
    const owner = existsSync(ownerFile) ? parseOwnerToken(await readFile(ownerFile, "utf8")) : undefined;
    if (owner !== undefined ? ownerAlive(owner, ownerFile) : containerLayers.has(id)) continue;
    const why = owner !== undefined ? `active snapshot of a dead process (${owner.pid})` : "neither committed, owned nor a container's";
    problems.push({ line: `${relative(paths.root, folder)}: ${why}`, repair: async () => {
      await removeSnapshotDir(folder, paths.tmp);
      for (const marker of await listDirIfExists(markers)) {
        const owner = parseOwnerToken(marker.slice(String(id).length + 1));
        const path = join(markers, marker);
        if (marker.startsWith(`${id}-`) && owner !== undefined && !ownerAlive(owner, path)) await rm(path, { force: true });
      }
      return "removed";
    } });
  }
  for (const marker of await listDirIfExists(markers)) {
    const m = /^(\d+)-(\d+(?:\.\d+)?)$/.exec(marker);
    const owner = m === null ? undefined : parseOwnerToken(m[2] as string);
    const path = join(markers, marker);
    if (m === null || owner === undefined || ownerAlive(owner, path)) continue;
    if (actives.includes(Number(m[1])) && !metas.has(Number(m[1]))) continue; // its folder is reported above
    problems.push({ line: `${relative(paths.root, path)}: marker of a dead process`, repair: () => removed(path) });
  }
  return problems;
}

/**
 * What dead processes left and the sweep removes: scratch files and folders, mounts, runc containers,
 * lock files and shared-lock markers, and temporary files of atomic writes beside their targets.
 */
export async function checkLeftovers(paths: StorePaths): Promise<CheckResult> {
  const problems: StoreProblem[] = [];
  const rel = (p: string): string => relative(paths.root, p);
  for (const id of await listDirIfExists(paths.runcState)) {
    if (deadOwned(id)) problems.push({ line: `runc container ${id}: of a dead process`, repair: async () => {
      await deleteContainer(paths, id);
      return "deleted";
    } });
  }
  const mounts = await mountsUnder(paths.root);
  for (const mountPoint of mounts) {
    const owner = relative(paths.root, mountPoint).split("/").map(ownerOfName).find((o) => o !== undefined);
    if (owner === undefined) problems.push({ line: `mount ${rel(mountPoint)}: no owner in its path` });
    else if (!ownerAlive(owner)) problems.push({ line: `mount ${rel(mountPoint)}: of a dead process`, repair: async () => {
      await unmount(mountPoint);
      return "unmounted";
    } });
  }
  for (const name of await listDirIfExists(paths.tmp)) {
    const path = join(paths.tmp, name);
    const owner = ownerOfName(name);
    if (owner !== undefined && ownerAlive(owner, path)) continue;
    if (owner === undefined && Date.now() - (statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? 0) < UNOWNED_AGE_MS) continue;
    const why = owner === undefined ? "no owner in its name, over an hour old" : "left by a dead process";
    const busy = mounts.some((m) => m === path || m.startsWith(`${path}/`));
    problems.push({ line: `${rel(path)}: ${why}`, ...(busy ? {} : { repair: () => removedDir(path) }) });
  }
  for (const name of await listDirIfExists(paths.locks)) {
    const path = join(paths.locks, name);
    if (name.endsWith(".readers")) {
      for (const marker of await listDirIfExists(path)) {
        const owner = parseOwnerToken(marker.replace(/-\d+$/, ""));
        const file = join(path, marker);
        if (owner !== undefined && !ownerAlive(owner, file)) problems.push({ line: `${rel(file)}: shared-lock marker of a dead process`, repair: () => removed(file) });
      }
    } else if (await ownerIsGone(path)) {
      problems.push({ line: `${rel(path)}: lock held by a dead process`, repair: () => removed(path) });
    }
  }
  // names made beside their targets (`<file>.tmp-<owner>-<hex>`, a cache mount's `<folder>.new-…`), in
  // the folders such names are made in
  const folders = [paths.root, join(paths.root, "layersizes"), paths.cache, join(paths.cache, "keys"), join(paths.cache, "steps"), join(paths.cache, "mounts")];
  for (const name of await listDirIfExists(paths.snapshots)) if (/^\d+$/.test(name)) folders.push(join(paths.snapshots, name));
  for (const name of await listDirIfExists(paths.containers)) folders.push(join(paths.containers, name));
  for (const folder of folders) {
    for (const name of await listDirIfExists(folder)) {
      const path = join(folder, name);
      if (name.includes(".") && deadOwned(name, path)) problems.push({ line: `${rel(path)}: temporary file of a dead process`, repair: () => removedDir(path) });
    }
  }
  return { problems, counts: {} };
}

async function readMeta(path: string): Promise<Meta | "damaged" | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return undefined;
    throw e;
  }
  try {
    const m = JSON.parse(text) as Partial<Meta>;
    if (typeof m.chainId === "string" && isDigest(m.chainId) && Array.isArray(m.lowers)) return { chainId: m.chainId, parent: m.parent ?? null, lowers: m.lowers };
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
  }
  return "damaged";
}

/** A symlink's target; "" when it is not a symlink. */
async function linkTarget(path: string): Promise<string> {
  try {
    return await readlink(path);
  } catch (e) {
    if (errnoCode(e) === "EINVAL") return "";
    throw e;
  }
}

async function removed(path: string): Promise<string> {
  await rm(path, { force: true });
  return "removed";
}

async function removedDir(path: string, paths?: StorePaths): Promise<string> {
  if (paths !== undefined) await removeSnapshotDir(path, paths.tmp);
  else await rm(path, { recursive: true, force: true });
  return "removed";
}
