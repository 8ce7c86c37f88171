// A layer blob as the plain tar it stands for. Built layers are stored uncompressed (digest = diffID);
// pulled ones stay as the registry sent them (gzip or zstd), so they are decompressed on the way to
// the snapshotter and their bytes checked against the config's diffID while they stream.
import { Transform, type Readable, type TransformCallback } from "node:stream";
import { hashToDigest, newHash, type Digest } from "../common/digest.js";
import { readFileHead } from "../common/fsutil.js";
import { ArchiveError } from "../common/errors.js";
import { LayerLimitCheck } from "../common/layerlimits.js";
import type { BlobStore } from "../image/blobs.js";
import { MediaType, type Descriptor } from "../image/config.js";
import { COMPRESSION_MAGIC_BYTES, decompressStream, detectCompression, type Compression } from "./decompress.js";
import { unpackLayer } from "./unpack.js";
import type { Snapshotter } from "./snapshotter.js";

/** The compression a layer's media type declares. */
export function layerCompression(mediaType: string): Compression {
  if (mediaType.endsWith("+gzip") || mediaType === MediaType.dockerLayerGzip || mediaType === MediaType.dockerForeignLayerGzip) return "gzip";
  if (mediaType.endsWith("+zstd")) return "zstd";
  return "none";
}

/** Fails at the end of the stream when what went through does not hash to `expected`. */
class DiffIdCheck extends Transform {
  private readonly hash = newHash();

  constructor(private readonly expected: Digest, private readonly what: string) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    const actual = hashToDigest(this.hash);
    cb(actual === this.expected ? null : new ArchiveError(`${this.what}: diffID mismatch: the config says ${this.expected}, the layer is ${actual}`));
  }
}

/** The uncompressed tar of a layer; a compressed one is checked against `diffId` as it is read. */
export function openLayerTar(store: BlobStore, layer: Descriptor, diffId: Digest): Readable {
  const kind = layerCompression(layer.mediaType);
  if (kind === "none") return store.openBlob(layer.digest);
  const what = `layer ${layer.digest}`;
  const blob = store.openBlob(layer.digest);
  const plain = decompressStream(kind, blob, what);
  const limit = new LayerLimitCheck(what, () => blob.bytesRead); // a decompression bomb stops here
  const check = new DiffIdCheck(diffId, what);
  plain.on("error", (e) => check.destroy(e));
  limit.on("error", (e) => check.destroy(e));
  check.on("close", () => {
    plain.destroy();
    limit.destroy();
  });
  return plain.pipe(limit).pipe(check);
}

/** The uncompressed tar of a blob known only by digest (sizes, listings): compression found by its magic. */
export async function openBlobAsTar(store: BlobStore, digest: Digest): Promise<Readable> {
  const kind = detectCompression(await readFileHead(store.blobPath(digest), COMPRESSION_MAGIC_BYTES));
  return decompressStream(kind, store.openBlob(digest), `layer ${digest}`);
}

/**
 * Unpacks an image's layers as snapshots (existing chains are reused without reading) and returns the
 * chain id of the top one, or null for an image without layers. `diffIds` are the config's rootfs.diff_ids.
 */
export async function unpackImageLayers(
  snapshotter: Snapshotter,
  store: BlobStore,
  layers: readonly Descriptor[],
  diffIds: readonly Digest[],
): Promise<Digest | null> {
  if (diffIds.length !== layers.length) throw new ArchiveError(`image has ${layers.length} layers but its config lists ${diffIds.length} diff_ids`);
  let chain: Digest | null = null;
  for (const [i, layer] of layers.entries()) {
    const diffId = diffIds[i] as Digest;
    try {
      chain = await unpackLayer(snapshotter, chain, diffId, () => openLayerTar(store, layer, diffId));
    } catch (e) {
      // the place: which layer (a stored image whose layer is corrupt fails here, at first use)
      if (e instanceof ArchiveError && !e.message.startsWith("layer ")) throw new ArchiveError(`layer ${i + 1} of ${layers.length} (${layer.digest}): ${e.message}`, { cause: e });
      throw e;
    }
  }
  return chain;
}
