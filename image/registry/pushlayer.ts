// One layer of a push: a compressed blob goes as it is; an uncompressed one (local layers are plain
// tar) is gzipped into a temporary file first, to learn the digest and size the upload needs. The
// memo remembers what each layer became, so the next push asks the registry (HEAD) before compressing,
// and mounts it from another repository of the same host that holds it (a push of the same image under
// a new name took as long as the first: it compressed the layers again only to mount them).
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { Transform, type Readable, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { hashToDigest, newHash, randomHex, type Digest } from "../../common/digest.js";
import { MediaType } from "../config.js";
import type { Descriptor } from "../config.js";
import type { ContentStore } from "../store.js";
import type { BlobPushResult, RepositoryClient } from "./api.js";
import { ProgressTap, shortDigest, type TransferSink } from "./progress.js";
import type { CompressedBlob, PushMemo } from "./pushmemo.js";
import { createLayerGzip } from "../../common/layergzip.js";
import { ownedName } from "../../common/owner.js";
import { READ_CHUNK } from "../../common/readchunk.js";

export interface PushedLayer {
  /** The descriptor the pushed manifest lists. */
  blob: CompressedBlob;
  result: BlobPushResult;
  /** For an uncompressed layer: what it was compressed to (to remember). */
  learned?: [Digest, CompressedBlob];
}

/** The OCI media type of a compressed layer, or undefined for an uncompressed one. */
export function compressedLayerType(mediaType: string): string | undefined {
  if (mediaType === MediaType.ociLayerGzip || mediaType === MediaType.dockerLayerGzip) return MediaType.ociLayerGzip;
  if (mediaType === MediaType.ociLayerZstd) return MediaType.ociLayerZstd;
  return undefined;
}

export async function pushLayer(
  store: ContentStore,
  client: RepositoryClient,
  memo: PushMemo,
  layer: Descriptor,
  diffId: Digest,
  sink: TransferSink,
): Promise<PushedLayer> {
  const id = shortDigest(layer.digest);
  const compressed = compressedLayerType(layer.mediaType);
  if (compressed !== undefined) {
    const blob = { digest: layer.digest, size: layer.size, mediaType: compressed };
    const result = await upload(client, memo, blob, id, () => store.openBlob(layer.digest), sink);
    return { blob, result };
  }
  const known = memo.compressedOf(diffId);
  if (known && (await client.hasBlob(known.digest))) {
    sink({ type: "layer", id, status: "Layer already exists" });
    return { blob: known, result: "exists" };
  }
  // in another repository of this host: mounted from there as it is, not compressed again first
  if (known && mountSource(memo, client, known.digest) !== undefined) {
    const result = await mountOnly(client, memo, known, id, sink);
    if (result !== undefined) return { blob: known, result };
  }
  // `<kind>-<owner>-<8 hex>`: the sweep removes it if this process is killed (common/owner.ts)
  const temp = join(store.paths.tmp, ownedName("push"));
  try {
    const blob = await gzipTo(store.openBlob(layer.digest), temp);
    const result = await upload(client, memo, blob, id, () => createReadStream(temp, { highWaterMark: READ_CHUNK }), sink);
    return { blob, result, learned: [diffId, blob] };
  } finally {
    await rm(temp, { force: true });
  }
}

/** The registry would not mount: the caller compresses and uploads instead. */
class NotMounted extends Error {}

/** A cross-repository mount of a blob whose bytes are not at hand; undefined if the registry wants an upload. */
async function mountOnly(client: RepositoryClient, memo: PushMemo, blob: CompressedBlob, id: string, sink: TransferSink): Promise<BlobPushResult | undefined> {
  try {
    return await upload(client, memo, blob, id, () => {
      throw new NotMounted(`${blob.digest} was not mounted`);
    }, sink);
  } catch (e) {
    if (e instanceof NotMounted) return undefined; // the abandoned upload session expires at the registry
    throw e;
  }
}

/** Another repository on the same host known to hold the blob, to mount it from. */
export function mountSource(memo: PushMemo, client: RepositoryClient, digest: Digest): string | undefined {
  return memo.reposOf(digest)
    .filter((r) => r.startsWith(`${client.host}/`) && r !== `${client.host}/${client.repository}`)
    .map((r) => r.slice(client.host.length + 1))[0];
}

async function upload(
  client: RepositoryClient,
  memo: PushMemo,
  blob: CompressedBlob,
  id: string,
  open: () => Readable,
  sink: TransferSink,
): Promise<BlobPushResult> {
  const mountFrom = mountSource(memo, client, blob.digest);
  const result = await client.pushBlob(
    blob,
    () => withProgress(open(), new ProgressTap(id, blob.size, sink)),
    mountFrom !== undefined ? { mountFrom } : {},
  );
  const status = result === "exists" ? "Layer already exists" : result === "mounted" ? `Mounted from ${mountFrom ?? "another repository"}` : "Pushed";
  sink({ type: "layer", id, status });
  return result;
}

/** src piped through tap, with errors passed on and src closed when the reader stops early. */
function withProgress(src: Readable, tap: ProgressTap): Readable {
  src.on("error", (e) => tap.destroy(e));
  tap.on("close", () => src.destroy());
  return src.pipe(tap);
}

/** Gzips src into dest (which the caller removes), hashing the compressed bytes as they are written. */
async function gzipTo(src: Readable, dest: string): Promise<CompressedBlob> {
  await mkdir(join(dest, ".."), { recursive: true });
  const hash = newHash();
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  await pipeline(src, createLayerGzip(), tap, createWriteStream(dest, { highWaterMark: READ_CHUNK }));
  return { digest: hashToDigest(hash), size, mediaType: MediaType.ociLayerGzip };
}
