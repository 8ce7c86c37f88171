// Content-addressed blobs under blobs/sha256/. Every write goes to a temporary file under the store's
// tmp folder and is renamed into place, so a kill at any instant leaves only whole blobs behind.
import { createReadStream, mkdirSync, readFileSync, renameSync, statSync, writeFileSync, type ReadStream } from "node:fs";
import { mkdir, open, readdir, readFile, rm, stat, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import { digestHex, hashToDigest, isDigest, newHash, randomHex, sha256, type Digest, type Hash } from "../common/digest.js";
import { ArchiveError, errnoCode } from "../common/errors.js";
import { atomicWriteFile } from "../common/fsutil.js";
import type { StorePaths } from "../common/storepaths.js";
import { ownedName } from "../common/owner.js";
import type { Descriptor } from "./config.js";
import { READ_CHUNK } from "../common/readchunk.js";

/** Content that does not hash to the digest it claims. */
export class DigestMismatchError extends ArchiveError {
  constructor(readonly expected: Digest, readonly actual: Digest, what = "blob") {
    super(`${what} digest mismatch: expected ${expected}, got ${actual}`);
  }
}

/** `<prefix>-<owner>-<12 hex>`: named by its owner (common/owner.ts), swept if this process is killed. */
function tempName(dir: string, prefix: string): string {
  return join(dir, ownedName(prefix, 6));
}

/** Writes data to a temporary file under tmpDir and renames it onto dest (kill-safe: common/fsutil.ts). */
export async function writeFileVia(tmpDir: string, dest: string, data: string | Uint8Array): Promise<void> {
  await atomicWriteFile(dest, data, 0o644, tmpDir);
}

export class BlobStore {
  constructor(readonly paths: StorePaths) {}

  blobPath(d: Digest): string {
    if (!isDigest(d)) throw new Error(`not a sha256 digest: ${d}`);
    return join(this.paths.blobs, digestHex(d));
  }

  async has(d: Digest): Promise<boolean> {
    // one stat, asked several times a step: synchronous (statSync without throwing for ENOENT)
    return statSync(this.blobPath(d), { throwIfNoEntry: false }) !== undefined;
  }

  async blobSize(d: Digest): Promise<number> {
    return (await stat(this.blobPath(d))).size;
  }

  readBlob(d: Digest): Promise<Buffer> {
    return readFile(this.blobPath(d));
  }

  /** A JSON blob (manifest, config, index: small) read at once, not in four thread-pool round trips. */
  async readJson<T>(d: Digest): Promise<T> {
    return JSON.parse(readFileSync(this.blobPath(d), "utf8")) as T;
  }

  /** Every stored blob and its size in bytes (for garbage collection; temporary files live in tmp/). */
  async listBlobs(): Promise<Array<{ digest: Digest; size: number }>> {
    let names: string[];
    try {
      names = await readdir(this.paths.blobs);
    } catch (e) {
      if (errnoCode(e) === "ENOENT") return [];
      throw e;
    }
    const out: Array<{ digest: Digest; size: number }> = [];
    for (const name of names) {
      const digest = `sha256:${name}`;
      if (!isDigest(digest)) continue;
      const st = statSync(join(this.paths.blobs, name), { throwIfNoEntry: false });
      if (st !== undefined) out.push({ digest, size: st.size });
    }
    return out;
  }

  /** Removes a blob (garbage collection, under the store's GC lock). */
  async removeBlob(d: Digest): Promise<void> {
    await rm(this.blobPath(d), { force: true });
  }

  openBlob(d: Digest): ReadStream {
    return createReadStream(this.blobPath(d), { highWaterMark: READ_CHUNK });
  }

  /** Stores a small blob held in memory (configs, manifests); returns its descriptor. */
  async writeBlob(data: Buffer | string, mediaType = "application/octet-stream"): Promise<Descriptor> {
    const buf = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    const digest = sha256(buf);
    if (!(await this.has(digest))) {
      await mkdir(this.paths.blobs, { recursive: true });
      await writeFileVia(this.paths.tmp, this.blobPath(digest), buf);
    }
    return { mediaType, digest, size: buf.length };
  }

  /**
   * A streaming write: pipe into it, then commit (verifies and renames into blobs/) or abort.
   * `verified`: the bytes come from a stream that fails unless they hash to this digest (a registry
   * blob, image/registry/blobread.ts), so the ingest does not hash them a second time.
   */
  ingest(options: { verified?: Digest } = {}): BlobIngest {
    return new BlobIngest(this.paths.tmp, this.paths.blobs, options.verified);
  }
}

/** Bytes an ingest gathers before writing them out (one write instead of one per tar member). */
const INGEST_BUFFER = 1 << 20;
/** Chunks this large are written out at once rather than copied into the gathered bytes. */
const LARGE_CHUNK = 64 << 10;

/**
 * A blob being written. It is a Writable (so `await pipeline(src, ingest)` works); `append` writes
 * with backpressure. commit() hashes nothing twice: the digest is computed while writing. Writes are
 * gathered up to 1 MiB: a small layer (a WORKDIR, a COPY of a few files) is one synchronous write at
 * commit, where one promise per tar member used to cost milliseconds a step.
 */
export class BlobIngest extends Writable {
  readonly tempPath: string;
  private fh: FileHandle | undefined;
  /** The file being opened (abort waits for it, else a late open would leave the file behind). */
  private opening: Promise<FileHandle> | undefined;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** What names the blob: a hash of what is written, or the digest its (verifying) source has. */
  private readonly digestOf: { hash: Hash } | { verified: Digest };
  private written = 0;
  private settled = false;

  constructor(
    private readonly tmpDir: string,
    private readonly blobsDir: string,
    verified?: Digest,
  ) {
    // up to a gathering's worth of chunks waits in the stream while a write is out, and comes in one
    // _writev: a socket's 64 KiB pieces went to the file one thread-pool round trip each (64 MiB: ~200 ms)
    super({ highWaterMark: INGEST_BUFFER });
    this.digestOf = verified === undefined ? { hash: newHash() } : { verified };
    this.tempPath = tempName(tmpDir, "ingest");
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (error?: Error | null) => void): void {
    this._writev([{ chunk }], callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    let large = false;
    for (const { chunk } of chunks) {
      if ("hash" in this.digestOf) this.digestOf.hash.update(chunk);
      this.written += chunk.length;
      // A writer may reuse its buffer once called back: a chunk kept past the callback is a copy, and
      // a large one is written out before it (no copy).
      const big = chunk.length >= LARGE_CHUNK;
      large ||= big;
      this.pending.push(big ? chunk : Buffer.from(chunk));
      this.pendingBytes += chunk.length;
    }
    if (!large && this.pendingBytes < INGEST_BUFFER) return callback();
    this.flush().then(() => callback(), callback);
  }

  /** Writes the gathered bytes to the temp file, opening it first. */
  private async flush(): Promise<void> {
    if (this.fh === undefined) {
      mkdirSync(this.tmpDir, { recursive: true });
      this.opening = open(this.tempPath, "w", 0o644);
      this.fh = await this.opening;
    }
    let chunks = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    // one writev for them all, no copy; a short write goes on from where it stopped
    while (chunks.length > 0) {
      let { bytesWritten } = await this.fh.writev(chunks);
      let done = 0;
      while (done < chunks.length && bytesWritten >= (chunks[done] as Buffer).length) bytesWritten -= (chunks[done++] as Buffer).length;
      chunks = chunks.slice(done);
      if (bytesWritten > 0) chunks[0] = (chunks[0] as Buffer).subarray(bytesWritten);
    }
  }

  /** Everything is in the temp file when the stream has finished (callers may read it before commit). */
  override _final(callback: (error?: Error | null) => void): void {
    if (this.fh === undefined) {
      try {
        // all of it gathered: written at once (quick synchronous calls for a small blob)
        mkdirSync(this.tmpDir, { recursive: true });
        writeFileSync(this.tempPath, this.pending.length === 1 ? (this.pending[0] as Buffer) : Buffer.concat(this.pending), { mode: 0o644 });
        this.pending = [];
        return callback();
      } catch (e) {
        return callback(e instanceof Error ? e : new Error(String(e)));
      }
    }
    // no fsync: a rename after a complete write is kill-safe (common/fsutil.ts)
    this.flush().then(() => this.closeFile()).then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.closeFile().then(
      () => callback(error),
      (e: unknown) => callback(error ?? (e instanceof Error ? e : new Error(String(e)))),
    );
  }

  /** Writes one chunk, waiting for the file when the buffer is full. */
  async append(chunk: Buffer | string): Promise<void> {
    if (!this.write(chunk)) await new Promise<void>((resolve, reject) => {
      const onDrain = (): void => { this.off("error", onError); resolve(); };
      const onError = (e: Error): void => { this.off("drain", onDrain); reject(e); };
      this.once("drain", onDrain);
      this.once("error", onError);
    });
  }

  /** Ends the stream, checks the digest (when given) and moves the blob into the store. */
  async commit(expected?: Digest): Promise<{ digest: Digest; size: number }> {
    if (this.settled) throw new Error("ingest already committed or aborted");
    this.settled = true;
    try {
      if (!this.writableFinished) {
        await new Promise<void>((resolve, reject) => {
          this.once("error", reject);
          this.end(() => resolve());
        });
      }
      const digest = "hash" in this.digestOf ? hashToDigest(this.digestOf.hash) : this.digestOf.verified;
      if (expected !== undefined && expected !== digest) throw new DigestMismatchError(expected, digest);
      mkdirSync(this.blobsDir, { recursive: true });
      renameSync(this.tempPath, join(this.blobsDir, digestHex(digest)));
      return { digest, size: this.written };
    } catch (e) {
      await this.closeFile();
      await rm(this.tempPath, { force: true });
      throw e;
    }
  }

  /** Drops what was written. Safe to call after a failed commit and more than once. */
  async abort(): Promise<void> {
    this.settled = true;
    this.pending = [];
    if (!this.closed) {
      await new Promise<void>((resolve) => {
        this.once("close", () => resolve());
        if (!this.destroyed) this.destroy();
      });
    }
    await this.closeFile();
    await rm(this.tempPath, { force: true });
  }

  private async closeFile(): Promise<void> {
    const fh = this.fh ?? (await this.opening?.catch(() => undefined));
    this.fh = undefined;
    this.opening = undefined;
    if (fh) await fh.close();
  }

  get bytesWritten(): number {
    return this.written;
  }
}
