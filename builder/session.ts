// The services one build uses, opened once: the content store, the snapshotter, the cache index, the
// digest cache and the context; plus the build-wide options every step needs.
import type { Digest } from "../common/digest.js";
import type { SourcePlace } from "../common/errors.js";
import type { StorePaths } from "../common/storepaths.js";
import type { Descriptor } from "../image/config.js";
import type { ContentStore } from "../image/store.js";
import type { Snapshotter } from "../runtime/snapshotter.js";
import { applyLayerTar } from "../runtime/layer/index.js";
import type { CacheIndex } from "../cache/index.js";
import type { FileDigestCache } from "../cache/digestcache.js";
import type { BuildContext } from "../cache/context.js";
import type { EventSink } from "./events.js";

export interface BuildSettings {
  network: "host" | "none";
  noCache: boolean;
  signal: AbortSignal;
  /** The Dockerfile's name as errors show it ("Dockerfile", "docker/app.Dockerfile"). */
  dockerfileName: string;
  /** Absolute path of the Dockerfile: part of each step's identity for miss explanations. */
  dockerfilePath: string;
}

export class BuildSession {
  private readonly unpacking = new Map<string, Promise<Digest | null>>();

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

  place(line: number): SourcePlace {
    return { file: this.settings.dockerfileName, line };
  }

  /**
   * Makes sure an image's layers are unpacked as snapshots and returns the chain id of the top one
   * (null for an image without layers). Layer blobs in the store are uncompressed: digest = diffID.
   */
  ensureUnpacked(layers: Descriptor[]): Promise<Digest | null> {
    const id = layers.map((l) => l.digest).join(",");
    let p = this.unpacking.get(id);
    if (!p) {
      p = this.unpack(layers);
      this.unpacking.set(id, p);
    }
    return p;
  }

  private async unpack(layers: Descriptor[]): Promise<Digest | null> {
    let chain: Digest | null = null;
    for (const layer of layers) {
      chain = await this.snapshotter.unpackWith(applyLayerTar, chain, layer.digest, () => this.store.openBlob(layer.digest));
    }
    return chain;
  }
}
