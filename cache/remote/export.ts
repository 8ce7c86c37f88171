// `--cache-to`: writes the cache entries a build used or made as one cache manifest: layer blobs
// first (gzip-compressed for registries, as stored for folders), then the config listing the
// records, then the manifest under the cache's tag, so a reader never sees a manifest whose blobs
// are missing.
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { randomHex, sha256, type Digest } from "../../common/digest.js";
import { createLimiter, settleAll } from "../../common/limit.js";
import type { BlobStore } from "../../image/blobs.js";
import { MediaType } from "../../image/config.js";
import { PushMemo, type CompressedBlob } from "../../image/registry/pushmemo.js";
import type { CacheEntry } from "../index.js";
import {
  CACHE_CONFIG_MEDIA_TYPE, CACHE_FORMAT_VERSION, cacheManifest, type CacheConfigV1, type CacheLayer, type CacheRecordV1,
} from "./format.js";
import { bufferStream } from "./local.js";
import type { CacheTransport } from "./transport.js";
import { HashingStream, VerifyingStream } from "./verify.js";
import { createLayerGzip } from "../../common/layergzip.js";
import { ownedName } from "../../common/owner.js";
import { READ_CHUNK } from "../../common/readchunk.js";

/** A cache entry this build used or made, with the snapshot chain the step ran on. */
export interface UsedStep {
  entry: CacheEntry & { diffId: Digest; layerSize: number };
  parentChainId: Digest | null;
}

export interface ExportResult {
  manifestDigest: Digest;
  records: number;
  layers: number;
}

export async function exportCache(transport: CacheTransport, steps: UsedStep[], store: BlobStore, tmpDir: string): Promise<ExportResult> {
  const layers = new Map<Digest, Promise<CacheLayer>>();
  const limit = createLimiter(3);
  // push's memory of what each layer gzipped to: an unchanged layer is not compressed again
  const memo = transport.compressLayers ? await PushMemo.load(store.paths) : undefined;
  const learned: Array<[Digest, CompressedBlob]> = [];
  const layerOf = (diffId: Digest, size: number): Promise<CacheLayer> => {
    let p = layers.get(diffId);
    if (p === undefined) {
      p = limit(() => (memo ? pushGzipped(transport, store, diffId, tmpDir, memo, learned) : pushAsStored(transport, store, diffId, size)));
      layers.set(diffId, p);
    }
    return p;
  };
  const unique = [...new Map(steps.map((s) => [s.entry.key, s])).values()];
  const records: CacheRecordV1[] = await settleAll(unique.map(async ({ entry, parentChainId }) => ({
    key: entry.key,
    parentKey: entry.record.parentKey,
    parentChainId,
    chainId: entry.chainId,
    diffId: entry.diffId,
    layer: await layerOf(entry.diffId, entry.layerSize),
    durationMs: Math.round(entry.durationMs),
    createdAt: entry.createdAt,
    record: entry.record,
  })));
  const config: CacheConfigV1 = { version: CACHE_FORMAT_VERSION, records };
  const configBytes = Buffer.from(JSON.stringify(config), "utf8");
  const configDesc: CacheLayer = { mediaType: CACHE_CONFIG_MEDIA_TYPE, digest: sha256(configBytes), size: configBytes.length };
  await transport.putBlob(configDesc, () => bufferStream(configBytes));
  const layerList = await settleAll([...layers.values()]);
  if (memo && learned.length > 0) await memo.save({ compressed: learned });
  const manifest = Buffer.from(JSON.stringify(cacheManifest(configDesc, layerList)), "utf8");
  const manifestDigest = await transport.writeManifest(MediaType.ociManifest, manifest);
  return { manifestDigest, records: records.length, layers: layerList.length };
}

async function pushAsStored(transport: CacheTransport, store: BlobStore, diffId: Digest, size: number): Promise<CacheLayer> {
  const desc: CacheLayer = { mediaType: MediaType.ociLayer, digest: diffId, size };
  await transport.putBlob(desc, () => store.openBlob(diffId));
  return desc;
}

/** gzip into a temporary file (the digest must be known before the upload starts), then upload it. */
async function pushGzipped(
  transport: CacheTransport, store: BlobStore, diffId: Digest, tmpDir: string, memo: PushMemo, learned: Array<[Digest, CompressedBlob]>,
): Promise<CacheLayer> {
  const known = memo.compressedOf(diffId);
  if (known && known.mediaType === MediaType.ociLayerGzip && (await transport.hasBlob(known.digest))) return known;
  await mkdir(tmpDir, { recursive: true });
  const tmp = join(tmpDir, ownedName("cache-gz", 6));
  try {
    const hashing = new HashingStream();
    await pipeline(store.openBlob(diffId), new VerifyingStream(diffId, await store.blobSize(diffId), "store layer"), createLayerGzip(), hashing, createWriteStream(tmp, { highWaterMark: READ_CHUNK }));
    const desc: CacheLayer = { mediaType: MediaType.ociLayerGzip, digest: hashing.digest(), size: hashing.size };
    await transport.putBlob(desc, () => createReadStream(tmp, { highWaterMark: READ_CHUNK }));
    learned.push([diffId, desc]);
    return desc;
  } finally {
    await rm(tmp, { force: true });
  }
}
