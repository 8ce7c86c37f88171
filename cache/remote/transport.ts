// Where a shared cache lives: a folder (an OCI layout, for CI systems that keep a folder between
// runs) or a registry repository. Import and export only see this interface.
import type { Readable } from "node:stream";
import type { Digest } from "../../common/digest.js";
import type { CacheLayer } from "./format.js";

export interface StoredManifest {
  mediaType: string;
  bytes: Buffer;
}

export interface CacheTransport {
  /** "registry" or "local": shown in reports as a step's cache source. */
  readonly kind: "registry" | "local";
  /** Names the cache in messages: `127.0.0.1:5000/app:cache`, `/ci/cache`. */
  readonly where: string;
  /** Whether layers leave the machine gzip-compressed (registries) or as the store keeps them. */
  readonly compressLayers: boolean;
  /** The cache's manifest, or undefined when there is none yet (a first build). */
  readManifest(): Promise<StoredManifest | undefined>;
  /** A blob's bytes, checked against the descriptor as they stream (the stream fails on a wrong digest or size). */
  openBlob(blob: CacheLayer, what: "cache layer" | "cache config"): Promise<Readable>;
  hasBlob(digest: Digest): Promise<boolean>;
  /** Stores a blob unless it is there already; `open` gives its bytes (which hash to blob.digest). */
  putBlob(blob: CacheLayer, open: () => Readable): Promise<void>;
  /** Publishes the manifest under the cache's tag (after all its blobs). */
  writeManifest(mediaType: string, bytes: Buffer): Promise<Digest>;
}
