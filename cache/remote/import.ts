// `--cache-from`: a shared cache's records, fetched and checked once per build and kept in memory as
// a second place to look a key up after the local cache. Layers are fetched only for the steps that
// hit (prefetch.ts fetches the next ones of a chain ahead, committing them only when their
// step hits), verified while streaming and stored uncompressed (digest = diffID).
import { Writable, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Digest } from "../../common/digest.js";
import { errnoCode } from "../../common/errors.js";
import { DigestMismatchError, type BlobIngest, type BlobStore } from "../../image/blobs.js";
import { MediaType } from "../../image/config.js";
import {
  ForeignCacheError, parseCacheConfig, parseCacheManifest, type CacheManifest, type CacheRecordV1,
} from "./format.js";
import type { CacheTransport } from "./transport.js";
import { createGunzip } from "node:zlib";
import { READ_CHUNK } from "../../common/readchunk.js";

export class ImportedCache {
  /** The records by the key of the step before them. */
  private readonly children = new Map<Digest, CacheRecordV1[]>();

  private constructor(
    readonly transport: CacheTransport,
    private readonly records: Map<Digest, CacheRecordV1>,
  ) {
    for (const r of records.values()) {
      const list = this.children.get(r.parentKey);
      if (list === undefined) this.children.set(r.parentKey, [r]);
      else list.push(r);
    }
  }

  /** Reads and checks a cache; undefined when it does not exist yet. Throws ForeignCacheError. */
  static async load(transport: CacheTransport): Promise<ImportedCache | undefined> {
    const found = await transport.readManifest();
    if (found === undefined) return undefined;
    if (found.mediaType !== MediaType.ociManifest) {
      throw new ForeignCacheError(transport.where, `manifest media type ${found.mediaType}`);
    }
    const manifest = parseCacheManifest(found.bytes, transport.where);
    const config = parseCacheConfig(await readConfig(transport, manifest), manifest, transport.where);
    return new ImportedCache(transport, new Map(config.records.map((r) => [r.key, r])));
  }

  get where(): string {
    return this.transport.where;
  }

  get size(): number {
    return this.records.size;
  }

  lookup(key: Digest): CacheRecordV1 | undefined {
    return this.records.get(key);
  }

  /** The one record that follows `key` in this cache (the next step of a chain), if exactly one does. */
  onlyChild(key: Digest): CacheRecordV1 | undefined {
    const children = this.children.get(key);
    return children?.length === 1 ? children[0] : undefined;
  }

  /**
   * Puts the record's layer into the store (uncompressed) unless it is there. The bytes are checked
   * against the cache's digest while they stream and the result against the diffID; on any failure
   * nothing is left in the store.
   */
  async fetchLayer(rec: CacheRecordV1, store: BlobStore): Promise<void> {
    const staged = await this.stageLayer(rec, store);
    if (staged !== undefined) await commitStaged(staged, rec);
  }

  /**
   * Fetches the record's layer into a store ingest without committing it (undefined: the store has
   * it). The caller commits it (commitStaged) or aborts it; on a failure here nothing is left.
   */
  async stageLayer(rec: CacheRecordV1, store: BlobStore, signal?: AbortSignal): Promise<BlobIngest | undefined> {
    if (await store.has(rec.diffId)) return undefined;
    const source = await this.transport.openBlob(rec.layer, "cache layer");
    const ingest = store.ingest();
    const options = signal === undefined ? {} : { signal };
    try {
      // the transport checks the cache's digest as the bytes stream, the ingest the diffID
      if (rec.layer.mediaType === MediaType.ociLayerGzip) await pipeline(source, createGunzip({ chunkSize: READ_CHUNK }), ingest, options);
      else await pipeline(source, ingest, options);
      return ingest;
    } catch (e) {
      // a stream that fails at once (bad gzip) may beat the ingest's file open: let the ingest finish
      // opening and closing its file before abort() removes it, or the file would outlive the abort
      if (!ingest.destroyed) ingest.destroy();
      if (!ingest.closed) await new Promise((done) => ingest.once("close", done));
      await ingest.abort();
      throw e;
    }
  }
}

/** Moves a staged layer into the store as the record's diffID (nothing is left on a mismatch). */
export async function commitStaged(staged: BlobIngest, rec: CacheRecordV1): Promise<void> {
  try {
    await staged.commit(rec.diffId);
  } catch (e) {
    await staged.abort();
    throw e;
  }
}

async function readConfig(transport: CacheTransport, manifest: CacheManifest): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const collect = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk);
      done();
    },
  });
  let source: Readable;
  try {
    source = await transport.openBlob(manifest.config, "cache config");
  } catch (e) {
    if (errnoCode(e) === "ENOENT") throw new ForeignCacheError(transport.where, `config blob ${manifest.config.digest} is missing`);
    throw e;
  }
  try {
    await pipeline(source, collect);
  } catch (e) {
    if (e instanceof DigestMismatchError) throw new ForeignCacheError(transport.where, "config blob does not match its digest");
    throw e;
  }
  return Buffer.concat(chunks);
}
