// One filesystem step (RUN, COPY, ADD, WORKDIR): compute its cache key, take it from the cache when
// the key is known and its snapshot and layer still exist, otherwise run it on a fresh overlay upper
// dir, write that diff as a layer into the store and commit the snapshot. Every miss gets a reason.
import type { Digest } from "../common/digest.js";
import { MediaType } from "../image/config.js";
import { chainIdOf, type ActiveSnapshot } from "../runtime/snapshotter.js";
import { writeLayerTar } from "../runtime/layer/index.js";
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
}

export interface PreviousBuild {
  record: StepRecord;
  /** The diff dir of the snapshot it committed: read it, never write it. */
  diffDir: string;
  /** Its layer blob, when still in the store. */
  diffId?: Digest;
  /** Filled in by the work: files identical to their copy in diffDir (paths relative to it); their layer members are copied. */
  reused: Set<string>;
}

/** The previous build of this step, when it differs only in its inputs and its snapshot is still there. */
async function previousBuild(session: BuildSession, previous: StepRecord | undefined, record: StepRecord): Promise<PreviousBuild | undefined> {
  if (previous === undefined || session.settings.noCache) return undefined;
  if (previous.instruction !== record.instruction || previous.parentKey !== record.parentKey) return undefined;
  if (JSON.stringify(previous.definition) !== JSON.stringify(record.definition)) return undefined;
  const entry = await session.cache.get(stepKey(previous));
  if (entry === undefined || !(await session.snapshotter.has(entry.chainId))) return undefined;
  const diffId = entry.diffId !== undefined && (await session.store.has(entry.diffId)) ? entry.diffId : undefined;
  return { record: previous, diffDir: await session.snapshotter.diffDir(entry.chainId), ...(diffId ? { diffId } : {}), reused: new Set() };
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
  const active = await traced("step prepare", () => session.snapshotter.prepare(state.chainId));
  let diffId: Digest;
  let size: number;
  let chainId: Digest;
  let before: PreviousBuild | undefined;
  try {
    const mounted = await traced("step mount", () => session.snapshotter.mount(active));
    try {
      before = await previousBuild(session, previous, record);
      await traced("step work", () => step.work(mounted.rootfs, active, before));
    } catch (e) {
      await mounted.unmount();
      throw e;
    }
    // The upper dir is complete when the work returns: the layer is written while the overlay is
    // unmounted (umount only detaches; it never changes the upper dir). Its failure, if any, is kept.
    const unmounted = traced("step unmount", () => mounted.unmount()).then(() => undefined, (e: unknown) => ({ error: e }));
    const ingest = session.store.ingest();
    try {
      const reuse = before?.diffId !== undefined && before.reused.size > 0
        ? { donorTar: session.store.blobPath(before.diffId), reused: before.reused }
        : undefined;
      await traced("step layer tar", () => writeLayerTar(active.upper, ingest, reuse));
      ({ digest: diffId, size } = await traced("step layer commit", () => ingest.commit()));
    } catch (e) {
      await ingest.abort();
      await unmounted;
      throw e;
    }
    const failed = await unmounted;
    if (failed !== undefined) throw failed.error;
    chainId = chainIdOf(state.chainId, diffId);
  } catch (e) {
    await session.snapshotter.remove(active);
    throw e;
  }
  await traced("step snapshot commit", () => session.snapshotter.commit(active, chainId));
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
