// The services one build uses, opened once: the content store, the snapshotter, the cache index, the
// digest cache and the context; plus the build-wide options every step needs.
import { traced } from "../common/trace.js";
import type { Digest } from "../common/digest.js";
import { errnoCode, errorMessage, UserError } from "../common/errors.js";
import type { SandboxOptions } from "../runtime/ocispec.js";
import type { NamedContext } from "./namedcontexts.js";
import type { Platform } from "../runtime/platform.js";
import type { StorePaths } from "../common/storepaths.js";
import type { Descriptor, ImageConfig } from "../image/config.js";
import type { ContentStore, ImageRecord } from "../image/store.js";
import type { Snapshotter } from "../runtime/snapshotter.js";
import { currentLease, type PinKind } from "../common/pins.js";
import { chainIdOf } from "../image/config.js";
import { HeldRemovals } from "../runtime/heldremovals.js";
import { unpackImageLayers, type UnpackStatus } from "../runtime/layerblob.js";
import type { CacheEntry, CacheIndex } from "../cache/index.js";
import type { ImportedCache } from "../cache/remote/import.js";
import type { LayerPrefetch } from "../cache/remote/prefetch.js";
import type { UsedStep } from "../cache/remote/export.js";
import type { FileDigestCache } from "../cache/digestcache.js";
import type { BuildContext } from "../cache/context.js";
import type { EventSink, StepInfo } from "./events.js";
import type { StepClaims } from "./inflight.js";

export interface BuildSettings {
  network: "host" | "none";
  /** --add-host, --shm-size, --ulimit for every RUN (part of a RUN's key when set, as in BuildKit's ExecOp). */
  sandbox?: SandboxOptions;
  /** --build-context NAME=VALUE, by lower-case NAME. */
  namedContexts?: ReadonlyMap<string, NamedContext>;
  /** The platform the image is for (--platform, or this machine's); FROM --platform overrides it per stage. */
  targetPlatform: Platform;
  /** `tsbuild plan`: walk the build without running or writing anything (builder/planmode.ts). */
  plan?: boolean;
  /** Entitlements given with --allow. */
  allow: ReadonlySet<string>;
  noCache: boolean;
  /** --no-cache-filter: stages (by AS name, lower case) built without the cache. */
  noCacheStages?: ReadonlySet<string>;
  signal: AbortSignal;
  /** The Dockerfile's name as errors show it ("Dockerfile", "docker/app.Dockerfile"). */
  dockerfileName: string;
  /** Absolute path of the Dockerfile: part of each step's identity for miss explanations. */
  dockerfilePath: string;
  /** `--ssh ID=SOCKET`: agent sockets for RUN --mount=type=ssh, by id (never part of a cache key). */
  ssh?: ReadonlyMap<string, string>;
  /** `--secret id=…` values for RUN --mount=type=secret (never part of a cache key). */
  secrets?: ReadonlyMap<string, Buffer>;
}

/** A step restored from a --cache-from cache, or why a record there could not be used. */
export type ImportedHit = { entry: UsedStep["entry"]; source: "registry" | "local" } | { problem: string };

export class BuildSession {
  private readonly unpacking = new Map<string, Promise<Digest | null>>();
  /** Shared caches given with --cache-from, looked up after a local miss. */
  imported: ImportedCache[] = [];
  /** Their layers fetched ahead of the steps (set with `imported`). */
  prefetch: LayerPrefetch | undefined;
  /** Snapshots dropped in the background, and the holds on those a step runs over (fsstep.ts). */
  readonly removals = new HeldRemovals();
  /** Every cache entry this build used or made, by key (what --cache-to exports). */
  readonly usedSteps = new Map<Digest, UsedStep>();
  /** The manifests, configs and indexes of every image the build resolved (bases, --from images): an up-to-date memo checks they stay. */
  readonly imageBlobs = new Set<Digest>();
  /** The base images resolved and pinned before any stage ran, by FROM name: the stages use these. */
  readonly bases = new Map<string, ImageRecord>();
  /** One platform of a multi-platform build: the steps it is making, which the others wait for (inflight.ts). */
  claims: StepClaims | undefined;

  constructor(
    readonly paths: StorePaths,
    readonly store: ContentStore,
    readonly snapshotter: Snapshotter,
    readonly cache: CacheIndex,
    readonly digests: FileDigestCache,
    readonly context: BuildContext,
    readonly settings: BuildSettings,
    readonly emit: EventSink,
  ) {}

  /**
   * Makes sure an image's layers are unpacked as snapshots and returns the chain id of the top one
   * (null for an image without layers). Built layers are stored uncompressed (digest = diffID), pulled
   * ones as the registry sent them: `diffIds` (the config's rootfs.diff_ids) name the snapshots.
   */
  /**
   * Pins what the build is about to use or has just made (common/pins.ts), so that a prune meanwhile
   * keeps it: pin, then look. A no-op without a lease (`tsbuild plan`, which holds the store throughout).
   */
  async pin(kind: PinKind, digests: Iterable<Digest>): Promise<void> {
    await currentLease(this.paths)?.pin(kind, digests);
  }

  /** Runs fn holding the store shared (lease's hold): around making something, then pinning it. */
  hold<T>(fn: () => Promise<T>): Promise<T> {
    const lease = currentLease(this.paths);
    return lease === undefined ? fn() : lease.hold(fn);
  }

  /** Pins an image: its index (if it is one) and every platform's manifest, config, layers and chains. */
  async pinImage(rec: ImageRecord): Promise<void> {
    const platforms = await this.store.platformRecords(rec);
    const manifests = platforms.map((r) => r.manifestDigest);
    await this.pin("manifest", rec.index === undefined ? manifests : [rec.index.descriptor.digest, ...manifests]);
    if (rec.index !== undefined) this.imageBlobs.add(rec.index.descriptor.digest);
    for (const r of platforms) {
      this.imageBlobs.add(r.manifestDigest);
      this.imageBlobs.add(r.configDigest);
    }
  }

  /** Whether the stage's steps ignore the cache (--no-cache, or the stage named in --no-cache-filter). */
  noCacheFor(stage: string): boolean {
    return this.settings.noCache || (this.settings.noCacheStages?.has(stage.toLowerCase()) ?? false);
  }

  /** `step` (the FROM, or the COPY --from an image) hears how a long unpack goes (step-status events). */
  ensureUnpacked(layers: Descriptor[], diffIds: readonly Digest[], step?: StepInfo): Promise<Digest | null> {
    const id = layers.map((l) => l.digest).join(",");
    let p = this.unpacking.get(id);
    if (!p) {
      const onStatus = step === undefined ? undefined : (s: UnpackStatus): void =>
        this.emit({ type: "step-status", step, status: { id: `extracting ${s.digest}`, current: s.current, total: s.total, done: s.done, started: s.started } });
      p = unpackImageLayers(this.snapshotter, this.store, layers, diffIds, onStatus);
      this.unpacking.set(id, p);
    }
    return p;
  }

  /**
   * A stage's filesystem as a snapshot, made from its layers' blobs if it is not one yet. With a
   * --cache-from cache, a FROM and a hit only name their chain (BuildKit's lazy refs: a build whose
   * steps all hit unpacks nothing); what runs on it or reads it (a step that misses, COPY --from,
   * RUN --mount from) makes it here. `step` hears how a long unpack goes (the FROM's).
   */
  async materialize(at: { chainId: Digest | null; layers: Descriptor[]; config: ImageConfig }, step?: StepInfo): Promise<void> {
    if (at.chainId === null || this.settings.plan || (await this.snapshotter.has(at.chainId))) return;
    const made = await traced("materialize", () => this.ensureUnpacked(at.layers, at.config.rootfs.diff_ids, step));
    if (made !== at.chainId) throw new Error(`unreachable: the layers make ${String(made)}, not ${at.chainId}`);
  }

  /** Notes a cache entry the build used or made, with the chain it sits on (for --cache-to). */
  noteUsed(entry: UsedStep["entry"], parentChainId: Digest | null): void {
    this.usedSteps.set(entry.key, { entry, parentChainId });
  }

  /** Starts fetching the layers of the --cache-from records that follow `key` (cache/remote/prefetch.ts). */
  prefetchAfter(key: Digest): void {
    if (this.prefetch === undefined) return;
    for (const cache of this.imported) this.prefetch.after(cache, key);
  }

  /**
   * After a local miss: a step from a --cache-from cache, its layer fetched (only this one) and
   * recorded in the local cache; its snapshot is made only if a step runs on it (materialize). Undefined when no cache has
   * the key; a problem (the step is then built) when its layer cannot be fetched.
   */
  async restoreImported(key: Digest, parentChain: Digest | null): Promise<ImportedHit | undefined> {
    let problem: string | undefined;
    for (const cache of this.imported) {
      const rec = cache.lookup(key);
      if (rec === undefined) continue;
      if (rec.parentChainId !== parentChain) {
        problem = `cache ${cache.where} has this step on other parent layers`;
        continue;
      }
      this.prefetch?.after(cache, key); // the next steps' layers download while this one's is stored and unpacked
      await this.pin("blob", [rec.layer.digest, rec.diffId]); // before they are fetched and unpacked
      await this.pin("chain", [chainIdOf(parentChain, rec.diffId)]);
      try {
        await traced("cache-from fetch", () => this.prefetch?.fetch(cache, rec) ?? cache.fetchLayer(rec, this.store));
      } catch (e) {
        if (!(e instanceof UserError) && errnoCode(e) === undefined) throw e;
        problem = `cache ${cache.where}: layer ${rec.layer.digest} could not be fetched (${errorMessage(e)})`;
        continue;
      }
      // not unpacked: the entry names its chain, made from the layers when a step runs on it (materialize)
      const chainId = chainIdOf(parentChain, rec.diffId);
      const now = Date.now();
      const entry: CacheEntry & UsedStep["entry"] = {
        key, chainId, diffId: rec.diffId, layerSize: await this.store.blobSize(rec.diffId),
        createdAt: now, lastUsed: now, durationMs: rec.durationMs, record: rec.record,
      };
      await this.cache.put(key, entry);
      return { entry, source: cache.transport.kind };
    }
    return problem === undefined ? undefined : { problem };
  }
}
