// The runtime's part of `system check`: snapshots against their chain IDs, parents and dirs; snapshots
// nothing references; active snapshots and their markers (what dead processes left elsewhere:
// leftovers.ts).
import { existsSync } from "node:fs";
import { readFile, readlink, rm } from "node:fs/promises";
import { join, relative } from "node:path";
import { digestHex, isDigest, type Digest } from "../common/digest.js";
import { errnoCode } from "../common/errors.js";
import { listDirIfExists } from "../common/fsutil.js";
import { ownerAlive, parseOwnerToken } from "../common/owner.js";
import type { CheckResult, StoreProblem } from "../common/storecheck.js";
import type { StorePaths } from "../common/storepaths.js";
import { listContainers } from "./containers.js";
import { activeMarkersDir, removeSnapshotDir } from "./snapshotfiles.js";

interface Meta {
  chainId: Digest;
  parent: Digest | null;
  lowers: number[];
}

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

/**
 * Containers (`tsbuild run`): each record's writable layer is there and its image's chain published. A
 * container whose layer is gone can neither run again nor be committed: a repair removes its record.
 */
export async function checkContainers(paths: StorePaths, published: ReadonlySet<Digest>): Promise<CheckResult> {
  const problems: StoreProblem[] = [];
  const records = await listContainers(paths);
  for (const rec of records) {
    const where = `container ${rec.name} (${rec.id.slice(0, 12)})`;
    if (!existsSync(join(paths.snapshots, String(rec.snapshotId), "fs"))) {
      problems.push({ line: `${where}: its writable layer snapshots/${rec.snapshotId} is missing`, repair: async () => {
        await rm(join(paths.containers, rec.id), { recursive: true, force: true });
        return "record removed";
      } });
    } else if (rec.parentChain !== null && !published.has(rec.parentChain)) {
      problems.push({ line: `${where}: its image's snapshot ${rec.parentChain} is missing or broken` });
    }
  }
  return { problems, counts: { containers: records.length } };
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
    // (a build killed right after publishing a snapshot also left its owner file there, which goes too)
    const ownerFile = join(paths.snapshots, m[1] as string, "owner");
    const committedOwner = metas.has(Number(m[1])) && existsSync(ownerFile);
    problems.push({ line: `${relative(paths.root, path)}: marker of a dead process`, repair: async () => {
      if (committedOwner) await rm(ownerFile, { force: true });
      return removed(path);
    } });
  }
  return problems;
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

async function removedDir(path: string, paths: StorePaths): Promise<string> {
  await removeSnapshotDir(path, paths.tmp);
  return "removed";
}
