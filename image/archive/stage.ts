// Staging blobs for a load: every blob is verified in a temporary folder under the store's tmp and
// only moved into blobs/ once the whole archive checked out, so a bad archive leaves nothing behind.
import { readFileHead } from "../../common/fsutil.js";
import { READ_CHUNK } from "../../common/readchunk.js";
import { createReadStream, createWriteStream } from "node:fs";
import { rename, stat } from "node:fs/promises";
import { join } from "node:path";
import { Transform, Writable, type TransformCallback, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { hashToDigest, newHash, type Digest, type Hash } from "../../common/digest.js";
import { ArchiveError } from "../../common/errors.js";
import type { BlobStore } from "../blobs.js";
import { createGunzip } from "node:zlib";
import { LayerLimitCheck } from "../../common/layerlimits.js";

export type Compression = "none" | "gzip" | "zstd";

export function compressionOf(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return "zstd";
  return "none";
}

/** A pass-through that hashes and counts what flows through it. */
export class HashTap extends Transform {
  readonly hash: Hash = newHash();
  size = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    cb(null, chunk);
  }
  private result: Digest | undefined;
  digest(): Digest {
    this.result ??= hashToDigest(this.hash);
    return this.result;
  }
}

/** A verified, uncompressed blob waiting in the staging folder. */
export interface StagedBlob {
  path: string;
  digest: Digest;
  size: number;
}

/**
 * Copies src (decompressing gzip) into a new file under stagingDir, checking the raw bytes against
 * rawDigest (when the archive names one) and the uncompressed bytes against diffId.
 */
export async function stageLayer(
  src: Readable,
  head: Buffer,
  stagingDir: string,
  expect: { rawDigest?: Digest; rawSize?: number; diffId: Digest; what: string },
): Promise<StagedBlob> {
  const compression = compressionOf(head);
  if (compression === "zstd") throw new ArchiveError(`${expect.what}: zstd-compressed layers are not supported`);
  const dest = join(stagingDir, `layer-${expect.diffId.slice(7)}-${Math.random().toString(36).slice(2)}`);
  const plain = new HashTap();
  // an uncompressed layer's raw bytes are its bytes: hashed once
  const raw = compression === "gzip" ? new HashTap() : plain;
  const limit = new LayerLimitCheck(expect.what, () => (compression === "gzip" ? raw.size : undefined));
  // chunks gather while a write is out and go in one writev (fs.WriteStream's), not one write each
  const out = createWriteStream(dest, { highWaterMark: READ_CHUNK });
  try {
    if (compression === "gzip") await pipeline(src, raw, createGunzip({ chunkSize: READ_CHUNK }), limit, plain, out);
    else await pipeline(src, limit, plain, out);
  } catch (e) {
    if (isZlibError(e)) throw new ArchiveError(`${expect.what}: corrupt gzip data (${(e as Error).message})`);
    throw e;
  }
  checkSize(raw.size, expect);
  if (expect.rawDigest !== undefined && raw.digest() !== expect.rawDigest) {
    throw new ArchiveError(`${expect.what}: digest mismatch: expected ${expect.rawDigest}, got ${raw.digest()}`);
  }
  if (plain.digest() !== expect.diffId) {
    throw new ArchiveError(`${expect.what}: diffID mismatch: the config says ${expect.diffId}, the layer is ${plain.digest()}`);
  }
  return { path: dest, digest: plain.digest(), size: plain.size };
}

/** A layer whose size is not its descriptor's is refused (the image would be refused on push, or by another tool). */
export function checkSize(size: number, expect: { rawSize?: number; what: string }): void {
  if (expect.rawSize !== undefined && size !== expect.rawSize) {
    throw new ArchiveError(`${expect.what}: ${size} bytes, its descriptor says ${expect.rawSize}`);
  }
}

/** Checks a whole (small or large) file against an expected digest without copying it. */
export async function verifyFile(path: string, expected: Digest, what: string): Promise<StagedBlob> {
  const tap = new HashTap();
  await pipeline(createReadStream(path, { highWaterMark: READ_CHUNK }), tap, devNull());
  if (tap.digest() !== expected) throw new ArchiveError(`${what}: digest mismatch: expected ${expected}, got ${tap.digest()}`);
  return { path, digest: expected, size: tap.size };
}

function devNull(): Writable {
  return new Writable({ write: (_c, _e, cb) => cb() });
}

/**
 * Moves staged blobs into the store (a rename: same filesystem as the store's tmp). No fsync, as for
 * every blob the store writes (common/fsutil.ts: a rename after a complete write is kill-safe; power
 * loss is what system check finds): it was ~40% of loading a 256 MiB image here.
 */
export async function publishStaged(store: BlobStore, staged: Iterable<StagedBlob>): Promise<void> {
  for (const b of staged) {
    if (await store.has(b.digest)) continue;
    const size = (await stat(b.path)).size;
    if (size !== b.size) throw new Error(`staged blob ${b.path} changed size`);
    await rename(b.path, store.blobPath(b.digest));
  }
}

export function isZlibError(e: unknown): boolean {
  if (typeof e !== "object" || e === null) return false;
  const code = (e as { code?: unknown }).code;
  return typeof code === "string" && code.startsWith("Z_");
}

/** The first bytes of a file, to tell its compression. */
export function fileHead(path: string, n = 4): Promise<Buffer> {
  return readFileHead(path, n);
}
