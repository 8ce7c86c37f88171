// One filesystem step (RUN, COPY, ADD, WORKDIR): compute its cache key, take it from the cache when
// the key is known and its snapshot and layer still exist, otherwise run it on a fresh overlay upper
// dir, write that diff as a layer into the store and commit the snapshot. Every miss gets a reason.
import type { Digest } from "../common/digest.js";
import { MediaType } from "../image/config.js";
import { chainIdOf, type ActiveSnapshot } from "../runtime/snapshotter.js";
import { readdir, lstat } from "node:fs/promises";
import { join } from "node:path";
import { getAttributeSync } from "../common/xattr.js";
import { writeLayerTar, type LayerReuse } from "../runtime/layer/index.js";
import { stepIdentity, stepKey, type StepRecord } from "../cache/key.js";
import { explainMiss } from "../cache/explain.js";
import type { CacheEntry } from "../cache/index.js";
import type { StepInfo } from "./events.js";
import type { BuildSession } from "./session.js";
import type { StageState } from "./state.js";
import { traced } from "../common/trace.js";

export interface FilesystemStep {
  info: StepInfo;
  /** The record behind the key, without the parent key (the stage's current key is used). */
  record: Omit<StepRecord, "parentKey">;
  /** The history line (`RUN /bin/sh -c make # buildkit`). */
  createdBy: string;
  /**
   * Does the step's work in the mounted rootfs (writes land in active.upper). `previous`: the last
   * build of this Dockerfile step with the same definition on the same parent (COPY reuses its files).
   */
  work(rootfs: string, active: ActiveSnapshot, previous?: PreviousBuild): Promise<void>;
  /**
   * Whether the work, done over the previous build's result instead of the parent, gives what it gives
   * over the parent (COPY: it replaces or keeps every path the previous copy wrote, and keeps enough to
   * be worth it). Then the step's snapshot is stacked on the previous one and only changes are written.
   */
  stackable?(previous: StepRecord): boolean;
}

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
interface Stacking {
  /** That snapshot. */
  on: Digest;
  /** How many of its own dirs, from the bottom, the new snapshot stacks on. */
  dirs: number;
  /** Its dirs left out (above those), absolute. */
  skipped: string[];
}

/** The previous build of this step, when it differs only in its inputs and its snapshot is still there. */
async function previousEntry(session: BuildSession, previous: StepRecord | undefined, record: StepRecord): Promise<CacheEntry | undefined> {
  if (previous === undefined || session.settings.noCache) return undefined;
  if (previous.instruction !== record.instruction || previous.parentKey !== record.parentKey) return undefined;
  if (JSON.stringify(previous.definition) !== JSON.stringify(record.definition)) return undefined;
  const entry = await session.cache.get(stepKey(previous));
  if (entry === undefined || !(await session.snapshotter.has(entry.chainId))) return undefined;
  return entry;
}

/** Whether and how this miss may be stacked on the previous build's snapshot (see FilesystemStep.stackable). */
async function stacking(session: BuildSession, state: StageState, step: FilesystemStep, previous: StepRecord | undefined, entry: CacheEntry | undefined): Promise<Stacking | undefined> {
  if (previous === undefined || entry === undefined || step.stackable?.(previous) !== true) return undefined;
  const own = await session.snapshotter.ownDiff(entry.chainId);
  if (own === undefined || own.parent !== state.chainId || !own.plain) return undefined;
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

export async function runFilesystemStep(session: BuildSession, state: StageState, step: FilesystemStep): Promise<void> {
  const started = performance.now();
  const record: StepRecord = { ...step.record, parentKey: state.key };
  const key = stepKey(record);
  const stepId = stepIdentity(session.settings.dockerfilePath, state.index, step.info.index);

  const local = session.settings.noCache ? undefined : await usableEntry(session, key);
  // a local miss may still be in a --cache-from cache (fetches only this step's layer)
  const imported = local || session.settings.noCache ? undefined : await session.restoreImported(key, state.chainId);
  const hit = local ?? (imported && "entry" in imported ? imported.entry : undefined);
  if (hit) {
    session.noteUsed(hit, state.chainId);
    applyLayer(state, hit.chainId, hit.diffId, hit.layerSize, step.createdBy, new Date(hit.createdAt));
    state.key = key;
    await session.cache.touch(key);
    if ((await session.cache.previousStepKey(stepId)) !== key) await session.cache.rememberStep(stepId, record);
    session.emit({
      type: "step-done",
      step: step.info,
      result: {
        cached: true, key, durationMs: performance.now() - started, savedMs: hit.durationMs,
        layerDigest: hit.diffId, layerSize: hit.layerSize,
        ...(imported && "source" in imported ? { source: imported.source } : {}),
      },
    });
    return;
  }

  // The last build's record (for the reason and COPY's reuse) is only read on a miss: it can be large.
  const previous = await session.cache.previousStep(stepId);
  const reason = imported && "problem" in imported ? imported.problem : explainMiss(previous, record, {
    noCache: session.settings.noCache,
    parentRebuiltStep: state.lastRebuiltStep,
    isFirstStep: state.key === state.baseKey,
  });
  const before = await previousEntry(session, previous, record);
  const stack = await stacking(session, state, step, previous, before);
  const layer = (await buildLayer(session, state, step, previous, before, stack))
    ?? (await buildLayer(session, state, step, previous, before, undefined) as BuiltLayer); // unstacked never gives undefined
  const { diffId, size, chainId } = layer;
  const durationMs = performance.now() - started;
  const now = Date.now();
  const entry: CacheEntry = { key, chainId, diffId, layerSize: size, createdAt: now, lastUsed: now, durationMs, record };
  await session.cache.put(key, entry);
  await session.cache.rememberStep(stepId, record);
  session.noteUsed({ ...entry, diffId, layerSize: size }, state.chainId);
  applyLayer(state, chainId, diffId, size, step.createdBy, new Date(now));
  state.key = key;
  state.lastRebuiltStep = step.info.index;
  session.emit({
    type: "step-done",
    step: step.info,
    result: { cached: false, reason, key, durationMs, layerDigest: diffId, layerSize: size },
  });
}

interface BuiltLayer {
  diffId: Digest;
  size: number;
  chainId: Digest;
}

/**
 * Runs the step's work on a fresh snapshot and commits it with its layer. Stacked: on the previous
 * build's snapshot; undefined if the work deleted anything there (a stacked diff must be plain), in
 * which case nothing is left behind and the caller builds it unstacked.
 */
async function buildLayer(
  session: BuildSession, state: StageState, step: FilesystemStep,
  previous: StepRecord | undefined, entry: CacheEntry | undefined, stacked: Stacking | undefined,
): Promise<BuiltLayer | undefined> {
  const { snapshotter, store } = session;
  const active = await traced("step prepare", () => snapshotter.prepare(state.chainId, stacked));
  const donorDiffId = entry?.diffId !== undefined && (await store.has(entry.diffId)) ? entry.diffId : undefined;
  let result: BuiltLayer & { plain: boolean };
  try {
    const mounted = await traced("step mount", () => snapshotter.mount(active));
    const reused = new Set<string>();
    try {
      await withPreviousViews(session, state, previous, entry, stacked, mounted.rootfs, async (views) => {
        const before = previous === undefined || views === undefined ? undefined
          : { record: previous, ...views, startedAt: startOf(entry), ...(donorDiffId ? { diffId: donorDiffId } : {}), reused };
        await traced("step work", () => step.work(mounted.rootfs, active, before));
      });
    } catch (e) {
      await mounted.unmount();
      throw e;
    }
    // The upper dir is complete when the work returns: the layer is written while the overlay is
    // unmounted (umount only detaches; it never changes the upper dir). Its failure, if any, is kept.
    const unmounted = traced("step unmount", () => mounted.unmount()).then(() => undefined, (e: unknown) => ({ error: e }));
    const reuse = donorDiffId !== undefined && reused.size > 0 ? { donorTar: store.blobPath(donorDiffId), reused } : undefined;
    let written: { diffId: Digest; size: number; plain: boolean };
    if (stacked !== undefined) {
      // a stacked diff is its upper merged over the previous diff's dirs: read through a view of them
      const failed = await unmounted;
      if (failed !== undefined) throw failed.error;
      if (!(await isPlainDiff(active.upper))) {
        await snapshotter.remove(active);
        return undefined;
      }
      const view = await snapshotter.mountActiveDiff(active);
      try {
        written = await writeLayer(session, view.rootfs, reuse);
      } finally {
        await view.unmount();
      }
    } else {
      try {
        written = await writeLayer(session, active.upper, reuse);
      } catch (e) {
        await unmounted;
        throw e;
      }
      const failed = await unmounted;
      if (failed !== undefined) throw failed.error;
    }
    result = { ...written, chainId: chainIdOf(state.chainId, written.diffId) };
  } catch (e) {
    await snapshotter.remove(active);
    throw e;
  }
  await traced("step snapshot commit", () => snapshotter.commit(active, result.chainId, result.plain));
  return result;
}

/** When the build of a cache entry's step started. */
function startOf(entry: CacheEntry | undefined): number {
  return entry === undefined ? 0 : entry.createdAt - entry.durationMs;
}

/** The layer tar of a diff dir, into the store: its digest, size and whether the diff is plain. */
async function writeLayer(session: BuildSession, dir: string, reuse: LayerReuse | undefined): Promise<{ diffId: Digest; size: number; plain: boolean }> {
  const ingest = session.store.ingest();
  try {
    const { plain } = await traced("step layer tar", () => writeLayerTar(dir, ingest, reuse));
    const { digest, size } = await traced("step layer commit", () => ingest.commit());
    return { diffId: digest, size, plain };
  } catch (e) {
    await ingest.abort();
    throw e;
  }
}

/**
 * Runs `fn` with the views a work on the previous build needs (PreviousBuild), mounted for its duration:
 * the previous diff (or, stacked, the step's rootfs) and, stacked, the parent.
 */
async function withPreviousViews(
  session: BuildSession, state: StageState, previous: StepRecord | undefined, entry: CacheEntry | undefined,
  stacked: Stacking | undefined, rootfs: string,
  fn: (views: Pick<PreviousBuild, "donorRoot" | "parentRoot" | "changedSince"> | undefined) => Promise<void>,
): Promise<void> {
  if (previous === undefined || entry === undefined) return fn(undefined);
  const view = stacked ? await session.snapshotter.mountReadOnly(state.chainId) : await session.snapshotter.mountDiff(entry.chainId);
  try {
    await fn(stacked
      ? { donorRoot: rootfs, parentRoot: view.rootfs, ...(stacked.skipped.length > 0 ? { changedSince: await filesIn(stacked.skipped) } : {}) }
      : { donorRoot: view.rootfs });
  } finally {
    await view.unmount();
  }
}

/** No whiteout and no opaque folder in an upper dir (a stacked one is small: only what changed). */
async function isPlainDiff(dir: string): Promise<boolean> {
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

/** A cache entry whose snapshot and layer blob are both still there (pruning may have removed either). */
async function usableEntry(session: BuildSession, key: Digest): Promise<(CacheEntry & { diffId: Digest; layerSize: number }) | undefined> {
  const entry = await session.cache.get(key);
  if (!entry || !hasLayer(entry)) return undefined;
  if (!(await session.snapshotter.has(entry.chainId))) return undefined;
  if (!(await session.store.has(entry.diffId))) return undefined;
  return entry; // not spread: that would parse its record (cache/index.ts reads it on demand)
}

function hasLayer(entry: CacheEntry): entry is CacheEntry & { diffId: Digest; layerSize: number } {
  return entry.diffId !== undefined && entry.layerSize !== undefined;
}

function applyLayer(state: StageState, chainId: Digest, diffId: Digest, size: number, createdBy: string, created: Date): void {
  state.chainId = chainId;
  state.layers = [...state.layers, { mediaType: MediaType.ociLayer, digest: diffId, size }];
  state.config.rootfs = { type: "layers", diff_ids: [...state.config.rootfs.diff_ids, diffId] };
  state.addHistory(createdBy, false, created);
}
