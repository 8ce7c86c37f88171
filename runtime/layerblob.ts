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
import { TarFileSource, type TarInput } from "../image/tar/filesource.js";
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
  return openLayerTarCounted(store, layer, diffId).tar;
}

/** openLayerTar, with how many bytes of the blob (as stored: compressed or not) have been read so far. */
export function openLayerTarCounted(store: BlobStore, layer: Descriptor, diffId: Digest): { tar: Readable; bytesRead: () => number } {
  const kind = layerCompression(layer.mediaType);
  const blob = store.openBlob(layer.digest);
  const bytesRead = (): number => blob.bytesRead;
  if (kind === "none") return { tar: blob, bytesRead };
  const what = `layer ${layer.digest}`;
  const plain = decompressStream(kind, blob, what);
  const limit = new LayerLimitCheck(what, () => blob.bytesRead); // a decompression bomb stops here
  const check = new DiffIdCheck(diffId, what);
  plain.on("error", (e) => check.destroy(e));
  limit.on("error", (e) => check.destroy(e));
  check.on("close", () => {
    plain.destroy();
    limit.destroy();
  });
  return { tar: plain.pipe(limit).pipe(check), bytesRead };
}

/**
 * openLayerTarCounted for an unpack: a stored uncompressed layer is read as a TarFileSource, so the
 * unpacker copies large files' bodies from the blob without reading them (runtime/layer/fastapply.ts).
 */
function openLayerForUnpack(store: BlobStore, layer: Descriptor, diffId: Digest): { tar: TarInput; bytesRead: () => number } {
  if (layerCompression(layer.mediaType) !== "none") return openLayerTarCounted(store, layer, diffId);
  const file = new TarFileSource(store.blobPath(layer.digest));
  return { tar: file, bytesRead: () => file.position };
}

/** The uncompressed tar of a blob known only by digest (sizes, listings): compression found by its magic. */
export async function openBlobAsTar(store: BlobStore, digest: Digest): Promise<Readable> {
  const kind = detectCompression(await readFileHead(store.blobPath(digest), COMPRESSION_MAGIC_BYTES));
  return decompressStream(kind, store.openBlob(digest), `layer ${digest}`);
}

/** How far the unpacking of one layer is: bytes of its blob read, of its size; `done` once it is a snapshot. */
export interface UnpackStatus {
  digest: Digest;
  current: number;
  total: number;
  done: boolean;
  /** When the layer began to unpack (ms since the epoch). */
  started: number;
}

/**
 * How often a layer being unpacked reports how far it is (TSBUILD_UNPACK_PROGRESS_MS lowers it in tests).
 * A layer unpacked sooner reports nothing: a small base stays as quiet as before.
 */
function progressInterval(): number {
  const ms = Number(process.env.TSBUILD_UNPACK_PROGRESS_MS);
  return Number.isFinite(ms) && ms > 0 ? ms : 1000;
}

/**
 * Unpacks an image's layers as snapshots (existing chains are reused without reading) and returns the
 * chain id of the top one, or null for an image without layers. `diffIds` are the config's rootfs.diff_ids.
 * `onStatus` hears, every progressInterval() while a layer unpacks, how much of its blob has been read,
 * and, if it heard that, when the layer is done.
 */
export async function unpackImageLayers(
  snapshotter: Snapshotter,
  store: BlobStore,
  layers: readonly Descriptor[],
  diffIds: readonly Digest[],
  onStatus?: (status: UnpackStatus) => void,
): Promise<Digest | null> {
  if (diffIds.length !== layers.length) throw new ArchiveError(`image has ${layers.length} layers but its config lists ${diffIds.length} diff_ids`);
  let chain: Digest | null = null;
  for (const [i, layer] of layers.entries()) {
    const diffId = diffIds[i] as Digest;
    let reported = false;
    let started = 0;
    let timer: NodeJS.Timeout | undefined;
    // called only when the layer is not unpacked yet
    const open = (): TarInput => {
      const { tar, bytesRead } = openLayerForUnpack(store, layer, diffId);
      started = Date.now();
      if (onStatus) {
        timer = setInterval(() => {
          reported = true;
          onStatus({ digest: layer.digest, current: Math.min(bytesRead(), layer.size), total: layer.size, done: false, started });
        }, progressInterval());
      }
      return tar;
    };
    try {
      chain = await unpackLayer(snapshotter, chain, diffId, open);
      clearInterval(timer);
      if (reported) onStatus?.({ digest: layer.digest, current: layer.size, total: layer.size, done: true, started });
    } catch (e) {
      clearInterval(timer);
      // the place: which layer (a stored image whose layer is corrupt fails here, at first use)
      if (e instanceof ArchiveError && !e.message.startsWith("layer ")) throw new ArchiveError(`layer ${i + 1} of ${layers.length} (${layer.digest}): ${e.message}`, { cause: e });
      throw e;
    }
  }
  return chain;
}
