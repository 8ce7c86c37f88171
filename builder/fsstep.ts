// One filesystem step (RUN, COPY, ADD, WORKDIR), in the order it happens: its cache key; the lookup (a
// hit takes the cached snapshot and layer); on a miss, a fresh snapshot, the work in it, and the step
// returned built, its finish() still to run: write the layer, commit the snapshot, store the cache
// entry. When a finish runs is the stage loop's decision (stage.ts). Every miss gets a reason.
import type { Digest } from "../common/digest.js";
import { MediaType } from "../image/config.js";
import { chainIdOf, type ActiveSnapshot } from "../runtime/snapshotter.js";
import { writeLayerTar, type LayerReuse } from "../runtime/layer/index.js";
import { mountSpec } from "../runtime/mountspec.js";
import { stepIdentity, stepKey, type StepRecord } from "../cache/key.js";
import { explainMiss } from "../cache/explain.js";
import type { CacheEntry } from "../cache/index.js";
import { stepLabel, type StepInfo, type StepResult } from "./events.js";
import type { BuildSession } from "./session.js";
import type { StageState } from "./state.js";
import { monotonicMs } from "../common/clock.js";
import { traced } from "../common/trace.js";
import { testPause } from "../common/testpause.js";

export interface FilesystemStep {
  info: StepInfo;
  /** The record behind the key, without the parent key (the stage's current key is used). */
  record: Omit<StepRecord, "parentKey">;
  /** The history line (`RUN /bin/sh -c make # buildkit`); none for a named folder's layer (builder/namedbase.ts). */
  createdBy?: string;
  /** The layer's name where the exporter writes a missing history entry; the step's progress name if not given. */
  description?: string;
  /** Does the step's work in the mounted rootfs (its writes land in the snapshot's upper dir). */
  work(rootfs: string, context: WorkContext): Promise<WorkDone | void>;
}

/** What a step's work is given besides its rootfs. */
export interface WorkContext {
  /** The snapshot's upper dir: what the work writes, the diff. */
  upper: string;
  /** This step's record, with its parent key. */
  record: StepRecord;
  /** The last build of this Dockerfile step (any definition): COPY's fast path may take files from it. */
  previous: StepRecord | undefined;
  /** Call once the work is under way (RUN's container, COPY's copying): the step before is finished meanwhile. */
  started(): void;
}

/** What a work may hand to the layer writer. */
export interface WorkDone {
  /** Files whose layer members are the previous layer's (builder/fastcopy.ts). */
  layerReuse?: LayerReuse;
}

/** What running a filesystem step gave: a cache hit (applied to the stage), or a step built and not yet finished. */
export type StepOutcome = { kind: "hit" } | BuiltStep;

/** A step whose work is done (its snapshot's upper dir is final) and whose layer is still to be written. */
export interface BuiltStep {
  kind: "built";
  /** Its snapshot: unmounted, not committed (a RUN after it may run over it meanwhile). */
  snapshot: ActiveSnapshot;
  /**
   * Writes the layer, commits the snapshot, stores the cache entry, applies the layer to the stage and
   * reports the step done. Runs once: a later call gives the same promise.
   */
  finish(): Promise<void>;
}

export interface StepOptions {
  /**
   * The step before, built and not finished (stage.ts gives it to a RUN only): this step runs over its
   * snapshot and starts its finish once the work has started. Finished when this step returns.
   */
  after?: BuiltStep;
}

export async function runFilesystemStep(
  session: BuildSession, state: StageState, step: FilesystemStep, options: StepOptions = {},
): Promise<StepOutcome> {
  const started = monotonicMs();
  const { after } = options;
  const record: StepRecord = { ...step.record, parentKey: state.key };
  const key = stepKey(record);
  const stepId = stepIdentity(session.settings.dockerfilePath, state.index, step.info.index);
  const noCache = session.noCacheFor(state.name);
  if (session.settings.plan) return planStep(session, state, step, record, key, stepId, noCache, started);

  // Another platform of a multi-platform build making this very step is waited for (then it hits).
  // The claim ends on a hit or once the entry is stored; a failed step's ends with its build (endAll).
  const release = session.claims && !noCache ? await session.claims.claim(key) : undefined;

  // Lookup: the local cache, then a --cache-from cache (which fetches only this step's layer and
  // unpacks it on the parent chain, so the step before must be finished first).
  const local = noCache ? undefined : await usableEntry(session, key, state.chainId);
  let over = after; // unfinished until here: a miss runs over its snapshot
  if (local === undefined && !noCache && session.imported.length > 0) {
    await after?.finish();
    over = undefined;
  }
  const imported = local || noCache ? undefined : await session.restoreImported(key, state.chainId);
  const hit = local ?? (imported && "entry" in imported ? imported.entry : undefined);
  if (hit) {
    await after?.finish(); // the hit goes on the chain the step before becomes
    session.noteUsed(hit, state.chainId);
    applyLayer(state, hit.chainId, hit.diffId, hit.layerSize, step, new Date(hit.createdAt));
    state.key = key;
    await session.cache.touch(key);
    if ((await session.cache.previousStepKey(stepId)) !== key) await session.cache.rememberStep(stepId, record);
    session.emit({
      type: "step-done",
      step: step.info,
      result: {
        cached: true, key, durationMs: monotonicMs() - started, savedMs: hit.durationMs,
        layerDigest: hit.diffId, layerSize: hit.layerSize,
        ...(imported && "source" in imported ? { source: imported.source } : {}),
      },
    });
    release?.();
    return { kind: "hit" };
  }

  // Miss. The last build's record (for the reason, and COPY's fast path) is only read now: it can be large.
  const previous = await session.cache.previousStep(stepId);
  const reason = imported && "problem" in imported ? imported.problem : explainMiss(previous, record, {
    noCache,
    parentRebuiltStep: state.lastRebuiltStep,
    isFirstStep: state.key === state.baseKey,
  });
  const { snapshotter } = session;
  // over a built step the chain below is a snapshot already; after hits it may only be named
  if (over === undefined) await session.materialize(state, state.unpackStep);
  const snapshot = await traced("step prepare", () =>
    snapshotter.prepare(state.chainId, over === undefined ? {} : { over: over.snapshot }));
  let done: WorkDone | void;
  try {
    done = await doWork(session, snapshot, step, { record, previous, started: () => void after?.finish() }, over);
    await after?.finish(); // this step goes on the chain the step before became
  } catch (e) {
    await dropSnapshot(session, snapshot);
    throw e;
  }
  const parent = state.chainId;
  state.key = key;
  state.lastRebuiltStep = step.info.index;
  const finish = async (): Promise<void> => {
    try {
      await commitStep();
    } finally {
      release?.(); // stored (or failed): a platform waiting for this key looks it up now
    }
  };
  const commitStep = async (): Promise<void> => {
    const { diffId, size, chainId } = await storeLayer(session, snapshot, parent, done?.layerReuse);
    const durationMs = monotonicMs() - started;
    const now = Date.now();
    const entry: CacheEntry = { key, chainId, diffId, layerSize: size, createdAt: now, lastUsed: now, durationMs, record };
    // The entry before the snapshot's chain link: a kill between the two leaves an entry whose
    // snapshot is made from its layer on demand (as a --cache-from one), never a published snapshot
    // nothing references (`system check` reports that one, and only a prune would remove it).
    try {
      await session.cache.put(key, entry);
    } catch (e) {
      await dropSnapshot(session, snapshot);
      throw e;
    }
    await testPause("step-entry-stored"); // test/faults.test.ts kills a build here
    await publishSnapshot(session, snapshot, chainId, parent);
    await session.cache.rememberStep(stepId, record);
    session.noteUsed({ ...entry, diffId, layerSize: size }, parent);
    applyLayer(state, chainId, diffId, size, step, new Date(now));
    session.emit({
      type: "step-done",
      step: step.info,
      result: { cached: false, reason, key, durationMs, layerDigest: diffId, layerSize: size },
    });
  };
  let finishing: Promise<void> | undefined;
  return {
    kind: "built",
    snapshot,
    finish: () => {
      if (finishing === undefined) {
        finishing = finish();
        // started early by a RUN over it (WorkContext.started) and awaited later: not unhandled meanwhile
        finishing.catch(() => undefined);
      }
      return finishing;
    },
  };
}

/** `tsbuild plan`'s step: looked up, applied if it hits, predicted if not; never run (planmode.ts). */
async function planStep(
  session: BuildSession, state: StageState, step: FilesystemStep, record: StepRecord, key: Digest, stepId: string, noCache: boolean, started: number,
): Promise<StepOutcome> {
  const done = (result: Omit<StepResult, "durationMs">): StepOutcome => {
    session.emit({ type: "step-done", step: step.info, result: { ...result, durationMs: monotonicMs() - started } });
    return { kind: "hit" };
  };
  if (state.planned === "depends") return done({ cached: false, planned: "depends", reason: "depends on the step before it" });
  const hit = noCache ? undefined : await usableEntry(session, key, state.chainId);
  if (hit) {
    applyLayer(state, hit.chainId, hit.diffId, hit.layerSize, step, new Date(hit.createdAt));
    state.key = key;
    return done({ cached: true, planned: "cached", key, savedMs: hit.durationMs, layerDigest: hit.diffId, layerSize: hit.layerSize });
  }
  const previousKey = await session.cache.previousStepKey(stepId);
  const previous = await session.cache.previousStep(stepId);
  const estimate = previousKey === undefined ? undefined : (await session.cache.get(previousKey))?.durationMs;
  const reason = explainMiss(previous, record, { noCache, parentRebuiltStep: state.lastRebuiltStep, isFirstStep: state.key === state.baseKey });
  state.key = key;
  state.lastRebuiltStep = step.info.index;
  state.planned = "rebuild";
  return done({ cached: false, planned: "rebuild", reason, key, ...(estimate !== undefined ? { estimatedMs: estimate } : {}) });
}

/**
 * Mounts the snapshot, runs the work in it and unmounts it. A snapshot prepared over the step before
 * (`over`) holds that one until it is unmounted: a removal of it (dropSnapshot) waits until then.
 */
async function doWork(
  session: BuildSession, snapshot: ActiveSnapshot, step: FilesystemStep, context: Omit<WorkContext, "upper">, over: BuiltStep | undefined,
): Promise<WorkDone | void> {
  const { snapshotter } = session;
  if (over !== undefined) session.removals.hold(over.snapshot.id);
  try {
    const mounted = await traced("step mount", async () => mountSpec(await snapshotter.mounts(snapshot), session.paths.tmp));
    try {
      return await traced("step work", () => step.work(mounted.rootfs, { ...context, upper: snapshot.upper }));
    } finally {
      await traced("step unmount", () => mounted.unmount());
    }
  } finally {
    if (over !== undefined) session.removals.release(over.snapshot.id);
  }
}

/** Writes the layer of an unmounted snapshot into the store and pins its chain; drops the snapshot if that fails. */
async function storeLayer(
  session: BuildSession, snapshot: ActiveSnapshot, parent: Digest | null, reuse: LayerReuse | undefined,
): Promise<{ diffId: Digest; size: number; chainId: Digest }> {
  let layer: { diffId: Digest; size: number };
  try {
    layer = await writeLayer(session, snapshot.upper, reuse);
  } catch (e) {
    await dropSnapshot(session, snapshot);
    throw e;
  }
  const chainId = chainIdOf(parent, layer.diffId);
  await session.pin("chain", [chainId]); // before it is published: a prune meanwhile keeps it
  return { ...layer, chainId };
}

/** Commits the snapshot as `chainId` on `parent`; removes it in the background if that chain exists already (a rebuild that gave the same layer). */
async function publishSnapshot(session: BuildSession, snapshot: ActiveSnapshot, chainId: Digest, parent: Digest | null): Promise<void> {
  const published = await traced("step snapshot commit", () => session.snapshotter.commit(snapshot, chainId, { parent }));
  if (!published) session.removals.later(snapshot.id, () => session.snapshotter.remove(snapshot));
}

/** Removes an uncommitted snapshot: now, or once the step running over it has unmounted. */
async function dropSnapshot(session: BuildSession, snapshot: ActiveSnapshot): Promise<void> {
  if (session.removals.isHeld(snapshot.id)) session.removals.later(snapshot.id, () => session.snapshotter.remove(snapshot));
  else await session.snapshotter.remove(snapshot);
}

/** The layer tar of a diff dir, into the store: its digest and size. */
async function writeLayer(session: BuildSession, dir: string, reuse: LayerReuse | undefined): Promise<{ diffId: Digest; size: number }> {
  const ingest = session.store.ingest();
  try {
    await traced("step layer tar", () => writeLayerTar(dir, ingest, reuse));
    // stored and pinned in one shared hold of the store: no prune sees the blob unpinned
    const { digest, size } = await traced("step layer commit", () => session.hold(async () => {
      const stored = await ingest.commit();
      await session.pin("blob", [stored.digest]);
      return stored;
    }));
    return { diffId: digest, size };
  } catch (e) {
    await ingest.abort();
    throw e;
  }
}

/**
 * A cache entry whose layer blob is still there (pruning may have removed it), on `parent`: its snapshot
 * is there too, or is made from the layers when a step runs on it (an entry from --cache-from has none).
 */
async function usableEntry(session: BuildSession, key: Digest, parent: Digest | null): Promise<(CacheEntry & { diffId: Digest; layerSize: number }) | undefined> {
  await session.pin("entry", [key]); // pin, then look: a prune from now on keeps the entry, its snapshot and layer
  const entry = await session.cache.get(key);
  if (!entry || !hasLayer(entry)) return undefined;
  if (!(await session.store.has(entry.diffId))) return undefined;
  if (entry.chainId !== chainIdOf(parent, entry.diffId) && !(await session.snapshotter.has(entry.chainId))) return undefined;
  return entry; // not spread: that would parse its record (cache/index.ts reads it on demand)
}

function hasLayer(entry: CacheEntry): entry is CacheEntry & { diffId: Digest; layerSize: number } {
  return entry.diffId !== undefined && entry.layerSize !== undefined;
}

function applyLayer(state: StageState, chainId: Digest, diffId: Digest, size: number, step: FilesystemStep, created: Date): void {
  state.chainId = chainId;
  state.layers = [...state.layers, { mediaType: MediaType.ociLayer, digest: diffId, size }];
  state.config.rootfs = { type: "layers", diff_ids: [...state.config.rootfs.diff_ids, diffId] };
  if (step.createdBy !== undefined) state.addHistory(step.createdBy, false, created);
  state.lastLayer = { name: step.description ?? stepLabel(step.info), created: created.toISOString() };
}
