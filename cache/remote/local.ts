// A cache kept in a folder (`type=local,dest=DIR` / `src=DIR`): an OCI image layout whose index.json
// names the cache manifest by its tag (org.opencontainers.image.ref.name, default "latest"). Layers
// are stored uncompressed, as in the store. Blobs accumulate across exports (a CI folder is replaced
// as a whole); index.json is rewritten atomically, so a reader sees the old cache or the new one.
import { createReadStream } from "node:fs";
import { mkdir, open, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { pipeline as pipelineStream, Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { digestHex, isDigest, randomHex, sha256, type Digest } from "../../common/digest.js";
import { errnoCode } from "../../common/errors.js";
import { atomicWriteFile, pathExists } from "../../common/fsutil.js";
import { Annotation, MediaType } from "../../image/config.js";
import { OCI_LAYOUT_CONTENT, OCI_LAYOUT_FILE } from "../../image/layoutindex.js";
import { ForeignCacheError, type CacheLayer } from "./format.js";
import type { CacheTransport, StoredManifest } from "./transport.js";
import { VerifyingStream } from "./verify.js";
import { ownerToken } from "../../common/owner.js";
import { READ_CHUNK } from "../../common/readchunk.js";

interface IndexEntry {
  mediaType: string;
  digest: Digest;
  size: number;
  annotations?: Record<string, string>;
}

export class LocalCacheTransport implements CacheTransport {
  readonly kind = "local";
  readonly compressLayers = false;
  readonly where: string;

  constructor(readonly dir: string, readonly tag = "latest") {
    this.where = tag === "latest" ? dir : `${dir} (tag ${tag})`;
  }

  private blobPath(digest: Digest): string {
    return join(this.dir, "blobs", "sha256", digestHex(digest));
  }

  private async readIndex(): Promise<IndexEntry[] | undefined> {
    let text: string;
    try {
      text = await readFile(join(this.dir, "index.json"), "utf8");
    } catch (e) {
      if (errnoCode(e) === "ENOENT") return undefined;
      throw e;
    }
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      if (e instanceof SyntaxError) throw new ForeignCacheError(this.where, "index.json is not JSON");
      throw e;
    }
    const manifests = typeof v === "object" && v !== null ? (v as { manifests?: unknown }).manifests : undefined;
    if (!Array.isArray(manifests)) throw new ForeignCacheError(this.where, "index.json has no manifests list");
    return manifests.filter((m): m is IndexEntry =>
      typeof m === "object" && m !== null && typeof (m as IndexEntry).digest === "string" && isDigest((m as IndexEntry).digest));
  }

  async readManifest(): Promise<StoredManifest | undefined> {
    const entry = (await this.readIndex())?.find((m) => m.annotations?.[Annotation.refName] === this.tag);
    if (entry === undefined) return undefined;
    let bytes: Buffer;
    try {
      bytes = await readFile(this.blobPath(entry.digest));
    } catch (e) {
      if (errnoCode(e) === "ENOENT") throw new ForeignCacheError(this.where, `manifest blob ${entry.digest} is missing`);
      throw e;
    }
    if (sha256(bytes) !== entry.digest) throw new ForeignCacheError(this.where, `manifest blob does not match ${entry.digest}`);
    return { mediaType: entry.mediaType, bytes };
  }

  async openBlob(blob: CacheLayer, what: string): Promise<Readable> {
    const path = this.blobPath(blob.digest);
    await stat(path); // a missing blob fails here, not mid-stream
    // a failure of either stream fails the one returned (pipeline destroys it with the error)
    return pipelineStream(createReadStream(path, { highWaterMark: READ_CHUNK }), new VerifyingStream(blob.digest, blob.size, what), () => undefined);
  }

  hasBlob(digest: Digest): Promise<boolean> {
    return pathExists(this.blobPath(digest));
  }

  async putBlob(blob: CacheLayer, open: () => Readable): Promise<void> {
    const dest = this.blobPath(blob.digest);
    if (await pathExists(dest)) return;
    await mkdir(join(this.dir, "blobs", "sha256"), { recursive: true });
    const tmp = `${dest}.tmp-${ownerToken()}-${randomHex(4)}`;
    try {
      await pipeline(open(), new VerifyingStream(blob.digest, blob.size, "cache blob"), await fileSink(tmp));
      await rename(tmp, dest);
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async writeManifest(mediaType: string, bytes: Buffer): Promise<Digest> {
    const digest = sha256(bytes);
    await this.putBlob({ digest, size: bytes.length, mediaType }, () => bufferStream(bytes));
    await atomicWriteFile(join(this.dir, OCI_LAYOUT_FILE), OCI_LAYOUT_CONTENT);
    const others = ((await this.readIndex().catch((e: unknown) => {
      if (e instanceof ForeignCacheError) return undefined; // a damaged index is replaced
      throw e;
    })) ?? []).filter((m) => m.annotations?.[Annotation.refName] !== this.tag);
    const entry: IndexEntry = { mediaType, digest, size: bytes.length, annotations: { [Annotation.refName]: this.tag } };
    const index = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [...others, entry] };
    await atomicWriteFile(join(this.dir, "index.json"), JSON.stringify(index));
    return digest;
  }
}


async function fileSink(path: string): Promise<Writable> {
  const fh = await open(path, "w", 0o644);
  return fh.createWriteStream();
}

/** One buffer as a stream (Readable.from on a bare Buffer would yield its bytes one by one). */
export function bufferStream(bytes: Buffer): Readable {
  return Readable.from([bytes]);
}
