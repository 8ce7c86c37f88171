// One filesystem step (RUN, COPY, ADD, WORKDIR): compute its cache key, take it from the cache when
// the key is known and its snapshot and layer still exist, otherwise run it on a fresh overlay upper
// dir, write that diff as a layer into the store and commit the snapshot. Every miss gets a reason.
import type { Digest } from "../common/digest.js";
import { MediaType } from "../image/config.js";
import { chainIdOf, type ActiveSnapshot } from "../runtime/snapshotter.js";
import { writeLayerTar, type LayerReuse } from "../runtime/layer/index.js";
import { stepIdentity, stepKey, type StepRecord } from "../cache/key.js";
import { explainMiss } from "../cache/explain.js";
import type { CacheEntry } from "../cache/index.js";
import type { StepInfo } from "./events.js";
import type { BuildSession } from "./session.js";
import type { PendingLayer, StageState } from "./state.js";
import {
  isPlainDiff, previousEntry, stacking, startOf, withPreviousViews, type PreviousBuild, type Stacking,
} from "./previousbuild.js";

export type { PreviousBuild } from "./previousbuild.js";
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
   * `running`: called once the work waits on a process (RUN's container), so the previous step's layer
   * is written meanwhile.
   */
  work(rootfs: string, active: ActiveSnapshot, previous?: PreviousBuild, running?: () => void): Promise<void>;
  /**
   * Whether the work, done over the previous build's result instead of the parent, gives what it gives
   * over the parent (COPY: it replaces or keeps every path the previous copy wrote, and keeps enough to
   * be worth it). Then the step's snapshot is stacked on the previous one and only changes are written.
   */
  stackable?(previous: StepRecord): boolean;
}

export async function runFilesystemStep(session: BuildSession, state: StageState, step: FilesystemStep): Promise<void> {
  const started = performance.now();
  const record: StepRecord = { ...step.record, parentKey: state.key };
  const key = stepKey(record);
  const stepId = stepIdentity(session.settings.dockerfilePath, state.index, step.info.index);
  const { noCache } = session.settings;

  const local = noCache ? undefined : await usableEntry(session, key);
  // Only a RUN comes here with the previous step's layer still pending (stage.ts); it must be in place
  // before an imported layer is unpacked on it or a hit applied on it. A miss runs over it (doWork).
  if (!noCache && session.imported.length > 0) await state.settle();
  // a local miss may still be in a --cache-from cache (fetches only this step's layer)
  const imported = local || noCache ? undefined : await session.restoreImported(key, state.chainId);
  const hit = local ?? (imported && "entry" in imported ? imported.entry : undefined);
  if (hit) {
    await state.settle();
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
    noCache,
    parentRebuiltStep: state.lastRebuiltStep,
    isFirstStep: state.key === state.baseKey,
  });
  const before = await previousEntry(session, previous, record);
  // A RUN runs over the previous step's snapshot while that one's layer is still being written.
  const under = state.pending;
  const stack = under === undefined && previous !== undefined
    ? await stacking(session, state.chainId, step.stackable?.(previous) === true, before)
    : undefined;
  const worked = (await doWork(session, state, step, previous, before, stack, under))
    ?? (await doWork(session, state, step, previous, before, undefined, under) as Worked); // unstacked never gives undefined
  try {
    await state.settle(); // the previous step's layer is committed and applied: chainId is this step's parent
  } catch (e) {
    await worked.unmounted;
    await session.snapshotter.remove(worked.active);
    throw e;
  }
  const parent = state.chainId;
  state.key = key;
  state.lastRebuiltStep = step.info.index;
  // The layer is written and committed, and the step reported, when the next step needs it (or, for a
  // RUN next, while its container runs: StageState.defer).
  state.defer(worked.active, parent, async () => {
    const { diffId, size, chainId } = await finishLayer(session, worked, parent);
    const durationMs = performance.now() - started;
    const now = Date.now();
    const entry: CacheEntry = { key, chainId, diffId, layerSize: size, createdAt: now, lastUsed: now, durationMs, record };
    await session.cache.put(key, entry);
    await session.cache.rememberStep(stepId, record);
    session.noteUsed({ ...entry, diffId, layerSize: size }, parent);
    applyLayer(state, chainId, diffId, size, step.createdBy, new Date(now));
    session.emit({
      type: "step-done",
      step: step.info,
      result: { cached: false, reason, key, durationMs, layerDigest: diffId, layerSize: size },
    });
  });
}

interface BuiltLayer {
  diffId: Digest;
  size: number;
  chainId: Digest;
}

/** A step's work done on its snapshot: what writing its layer needs. */
interface Worked {
  active: ActiveSnapshot;
  /** Settles once its overlay is unmounted (with the unmount's failure, if any). */
  unmounted: Promise<{ error: unknown } | undefined>;
  reuse: LayerReuse | undefined;
  /** Stacked on the previous build's snapshot: the layer is read through a view of its dirs. */
  stacked: boolean;
}

/**
 * Runs the step's work on a fresh snapshot: over the parent chain, stacked on the previous build's
 * snapshot (undefined if the work deleted anything there: a stacked diff must be plain; nothing is
 * then left behind and the caller works unstacked), or over `under`, the previous step's snapshot
 * whose layer is still being written (started once the work says its container runs).
 */
async function doWork(
  session: BuildSession, state: StageState, step: FilesystemStep,
  previous: StepRecord | undefined, entry: CacheEntry | undefined, stacked: Stacking | undefined, under: PendingLayer | undefined,
): Promise<Worked | undefined> {
  const { snapshotter, store } = session;
  let released = false;
  const release = (): void => {
    if (under !== undefined && !released) snapshotter.release(under.active);
    released = true;
  };
  const active = await traced("step prepare", () => under !== undefined ? snapshotter.prepareOver(under.active, under.parent) : snapshotter.prepare(state.chainId, stacked));
  const donorDiffId = entry?.diffId !== undefined && (await store.has(entry.diffId)) ? entry.diffId : undefined;
  try {
    const mounted = await traced("step mount", () => snapshotter.mount(active));
    const reused = new Set<string>();
    try {
      await withPreviousViews(session, state.chainId, previous, entry, stacked, mounted.rootfs, async (views) => {
        const before = previous === undefined || views === undefined ? undefined
          : { record: previous, ...views, startedAt: startOf(entry), ...(donorDiffId ? { diffId: donorDiffId } : {}), reused };
        await traced("step work", () => step.work(mounted.rootfs, active, before, () => void under?.start()));
      });
    } catch (e) {
      await mounted.unmount();
      throw e;
    }
    // The upper dir is complete when the work returns: the layer is written while the overlay is
    // unmounted (umount only detaches; it never changes the upper dir). Its failure, if any, is kept.
    const unmounted = traced("step unmount", () => mounted.unmount()).then(() => undefined, (e: unknown) => ({ error: e }));
    void unmounted.then(release); // the snapshot under this one may go once nothing is mounted on it
    const reuse = donorDiffId !== undefined && reused.size > 0 ? { donorTar: store.blobPath(donorDiffId), reused } : undefined;
    if (stacked !== undefined) {
      const failed = await unmounted;
      if (failed !== undefined) throw failed.error;
      if (!(await isPlainDiff(active.upper))) {
        await snapshotter.remove(active);
        return undefined;
      }
    }
    return { active, unmounted, reuse, stacked: stacked !== undefined };
  } catch (e) {
    release();
    await snapshotter.remove(active);
    throw e;
  }
}

/** Writes the worked snapshot's layer and commits the snapshot on `parent`. */
async function finishLayer(session: BuildSession, w: Worked, parent: Digest | null): Promise<BuiltLayer> {
  const { snapshotter } = session;
  let result: BuiltLayer & { plain: boolean };
  try {
    let written: { diffId: Digest; size: number; plain: boolean };
    if (w.stacked) {
      // a stacked diff is its upper merged over the previous diff's dirs: read through a view of them
      const view = await snapshotter.mountActiveDiff(w.active);
      try {
        written = await writeLayer(session, view.rootfs, w.reuse);
      } finally {
        await view.unmount();
      }
    } else {
      try {
        written = await writeLayer(session, w.active.upper, w.reuse);
      } catch (e) {
        await w.unmounted;
        throw e;
      }
      const failed = await w.unmounted;
      if (failed !== undefined) throw failed.error;
    }
    result = { ...written, chainId: chainIdOf(parent, written.diffId) };
  } catch (e) {
    await snapshotter.remove(w.active);
    throw e;
  }
  await traced("step snapshot commit", () => snapshotter.commit(w.active, result.chainId, result.plain, parent));
  return result;
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
