// What a filesystem step may take from the previous build of the same Dockerfile step (same
// definition, same parent key): its cache entry, read-only views of its diff, and, for a COPY after a
// small change, stacking the new snapshot on its snapshot (runtime/snapshotter.ts, copy/reuse.ts).
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import type { Digest } from "../common/digest.js";
import { getAttributeSync } from "../common/xattr.js";
import { stepKey, type StepRecord } from "../cache/key.js";
import type { CacheEntry } from "../cache/index.js";
import type { BuildSession } from "./session.js";

export interface PreviousBuild {
  record: StepRecord;
  /**
   * The files of the previous build's diff, to read, never to write: a view of its snapshot's diff,
   * or, when this step's snapshot is stacked on that one, this step's own rootfs (the previous copy is
   * in place under it).
   */
  donorRoot: string;
  /** Stacked only: a read-only view of the parent snapshot, what the step would otherwise start from. */
  parentRoot?: string;
  /**
   * Stacked only: files (paths relative to the rootfs) of the previous diff that are not under the
   * mount as that build saw them (the dirs it stacked on last are left out), to be checked and copied.
   */
  changedSince?: Set<string>;
  /** When that build of the step started (ms since the epoch). */
  startedAt: number;
  /** Its layer blob, when still in the store. */
  diffId?: Digest;
  /** Filled in by the work: files identical to their copy in the previous diff (paths relative to the rootfs); their layer members are copied. */
  reused: Set<string>;
}

/**
 * A stacked snapshot holds at most this many dirs of its own: past it, the next build stacks on the
 * bottom one (the full copy) only and copies what the others changed again (a few files), so that
 * the dirs do not pile up build after build.
 */
const MAX_STACKED_DIRS = 4;

/** How a miss is stacked on the previous build's snapshot. */
export interface Stacking {
  /** That snapshot. */
  on: Digest;
  /** How many of its own dirs, from the bottom, the new snapshot stacks on. */
  dirs: number;
  /** Its dirs left out (above those), absolute. */
  skipped: string[];
}

/** The previous build of this step, when it differs only in its inputs and its snapshot is still there. */
export async function previousEntry(session: BuildSession, previous: StepRecord | undefined, record: StepRecord): Promise<CacheEntry | undefined> {
  if (previous === undefined || session.settings.noCache) return undefined;
  if (previous.instruction !== record.instruction || previous.parentKey !== record.parentKey) return undefined;
  if (JSON.stringify(previous.definition) !== JSON.stringify(record.definition)) return undefined;
  const entry = await session.cache.get(stepKey(previous));
  if (entry === undefined || !(await session.snapshotter.has(entry.chainId))) return undefined;
  return entry;
}

/** Whether and how this miss may be stacked on the previous build's snapshot (the step says whether it can be: FilesystemStep.stackable). */
export async function stacking(session: BuildSession, parentChain: Digest | null, stackable: boolean, entry: CacheEntry | undefined): Promise<Stacking | undefined> {
  if (entry === undefined || !stackable) return undefined;
  const own = await session.snapshotter.ownDiff(entry.chainId);
  if (own === undefined || own.parent !== parentChain || !own.plain) return undefined;
  if (own.dirs < MAX_STACKED_DIRS) return { on: entry.chainId, dirs: own.dirs, skipped: [] };
  return { on: entry.chainId, dirs: 1, skipped: own.paths.slice(0, own.dirs - 1) };
}

/** The files (not folders) in some diff dirs, as paths relative to them. */
async function filesIn(dirs: string[]): Promise<Set<string>> {
  const out = new Set<string>();
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const childRel = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) await walk(join(dir, entry.name), childRel);
      else out.add(childRel);
    }
  };
  for (const dir of dirs) await walk(dir, "");
  return out;
}

/** When the build of a cache entry's step started. */
export function startOf(entry: CacheEntry | undefined): number {
  return entry === undefined ? 0 : entry.createdAt - entry.durationMs;
}

/**
 * Runs `fn` with the views a work on the previous build needs (PreviousBuild), mounted for its duration:
 * the previous diff (or, stacked, the step's rootfs) and, stacked, the parent.
 */
export async function withPreviousViews(
  session: BuildSession, parentChain: Digest | null, previous: StepRecord | undefined, entry: CacheEntry | undefined,
  stacked: Stacking | undefined, rootfs: string,
  fn: (views: Pick<PreviousBuild, "donorRoot" | "parentRoot" | "changedSince"> | undefined) => Promise<void>,
): Promise<void> {
  if (previous === undefined || entry === undefined) return fn(undefined);
  const view = stacked ? await session.snapshotter.mountReadOnly(parentChain) : await session.snapshotter.mountDiff(entry.chainId);
  try {
    await fn(stacked
      ? { donorRoot: rootfs, parentRoot: view.rootfs, ...(stacked.skipped.length > 0 ? { changedSince: await filesIn(stacked.skipped) } : {}) }
      : { donorRoot: view.rootfs });
  } finally {
    await view.unmount();
  }
}

/** No whiteout and no opaque folder in an upper dir (a stacked one is small: only what changed). */
export async function isPlainDiff(dir: string): Promise<boolean> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isCharacterDevice() && (await lstat(path)).rdev === 0) return false;
    if (entry.isDirectory()) {
      if (getAttributeSync(path, "trusted.overlay.opaque")?.toString() === "y") return false;
      if (!(await isPlainDiff(path))) return false;
    }
  }
  return true;
}
