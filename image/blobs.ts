// Content-addressed blobs under blobs/sha256/. Every write goes to a temporary file under the store's
// tmp folder and is renamed into place, so a kill at any instant leaves only whole blobs behind.
import { createReadStream, type ReadStream } from "node:fs";
import { mkdir, open, readFile, rename, rm, stat, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import type { Hash } from "node:crypto";
import { digestHex, hashToDigest, isDigest, newHash, sha256, type Digest } from "../common/digest.js";
import { ArchiveError, errnoCode } from "../common/errors.js";
import type { StorePaths } from "../common/storepaths.js";
import type { Descriptor } from "./config.js";

/** Content that does not hash to the digest it claims. */
export class DigestMismatchError extends ArchiveError {
  constructor(readonly expected: Digest, readonly actual: Digest, what = "blob") {
    super(`${what} digest mismatch: expected ${expected}, got ${actual}`);
  }
}

function tempName(dir: string, prefix: string): string {
  return join(dir, `${prefix}-${process.pid}-${randomBytes(6).toString("hex")}`);
}

/** Writes data to a temporary file under tmpDir and renames it onto dest (kill-safe; see common/fsutil.ts). */
export async function writeFileVia(tmpDir: string, dest: string, data: string | Uint8Array): Promise<void> {
  await mkdir(tmpDir, { recursive: true });
  const tmp = tempName(tmpDir, "write");
  try {
    const fh = await open(tmp, "w", 0o644);
    try {
      await fh.writeFile(data);
    } finally {
      await fh.close();
    }
    await rename(tmp, dest);
  } finally {
    await rm(tmp, { force: true });
  }
}

export class BlobStore {
  constructor(readonly paths: StorePaths) {}

  blobPath(d: Digest): string {
    if (!isDigest(d)) throw new Error(`not a sha256 digest: ${d}`);
    return join(this.paths.blobs, digestHex(d));
  }

  async has(d: Digest): Promise<boolean> {
    try {
      await stat(this.blobPath(d));
      return true;
    } catch (e) {
      if (errnoCode(e) === "ENOENT") return false;
      throw e;
    }
  }

  async blobSize(d: Digest): Promise<number> {
    return (await stat(this.blobPath(d))).size;
  }

  readBlob(d: Digest): Promise<Buffer> {
    return readFile(this.blobPath(d));
  }

  async readJson<T>(d: Digest): Promise<T> {
    return JSON.parse((await this.readBlob(d)).toString("utf8")) as T;
  }

  openBlob(d: Digest): ReadStream {
    return createReadStream(this.blobPath(d));
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

  /** A streaming write: pipe into it, then commit (verifies and renames into blobs/) or abort. */
  ingest(): BlobIngest {
    return new BlobIngest(this.paths.tmp, this.paths.blobs);
  }
}

/**
 * A blob being written. It is a Writable (so `await pipeline(src, ingest)` works); `append` writes
 * with backpressure. commit() hashes nothing twice: the digest is computed while writing.
 */
export class BlobIngest extends Writable {
  readonly tempPath: string;
  private fh: FileHandle | undefined;
  private readonly hash: Hash = newHash();
  private written = 0;
  private settled = false;
  /** Settles when _construct is done (file open or failed): abort() waits for it, else a late open leaves the file. */
  private readonly constructed: Promise<void>;
  private markConstructed: () => void = () => {};

  constructor(
    private readonly tmpDir: string,
    private readonly blobsDir: string,
  ) {
    super();
    this.tempPath = tempName(tmpDir, "ingest");
    this.constructed = new Promise<void>((resolve) => {
      this.markConstructed = resolve;
    });
  }

  override _construct(callback: (error?: Error | null) => void): void {
    mkdir(this.tmpDir, { recursive: true })
      .then(() => mkdir(this.blobsDir, { recursive: true }))
      .then(() => open(this.tempPath, "w", 0o644))
      .then((fh) => {
        this.fh = fh;
        this.markConstructed();
        callback();
      }, (e: Error) => {
        this.markConstructed();
        callback(e);
      });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.hash.update(chunk);
    this.written += chunk.length;
    this.writeAll(chunk).then(() => callback(), callback);
  }

  private async writeAll(chunk: Buffer): Promise<void> {
    const fh = this.fh;
    if (!fh) throw new Error("ingest file is not open");
    let off = 0;
    while (off < chunk.length) {
      const { bytesWritten } = await fh.write(chunk, off, chunk.length - off);
      off += bytesWritten;
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    const fh = this.fh;
    if (!fh) return callback();
    callback(); // no fsync: rename after a complete write is kill-safe (see common/fsutil.ts)
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const fh = this.fh;
    this.fh = undefined;
    const closing = fh ? fh.close() : Promise.resolve();
    closing.then(
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
      await this.closeFile();
      const digest = hashToDigest(this.hash);
      if (expected !== undefined && expected !== digest) throw new DigestMismatchError(expected, digest);
      await rename(this.tempPath, join(this.blobsDir, digestHex(digest)));
      return { digest, size: this.written };
    } finally {
      await rm(this.tempPath, { force: true });
    }
  }

  /** Drops what was written. Safe to call after a failed commit and more than once. */
  async abort(): Promise<void> {
    this.settled = true;
    // destroy() waits for _construct (the file may still be opening), then _destroy closes it;
    // only after "close" is it safe to remove the file: an open finishing later would recreate it.
    if (!this.closed) {
      await new Promise<void>((resolve) => {
        this.once("close", () => resolve());
        if (!this.destroyed) this.destroy();
      });
    }
    await this.constructed;
    await this.closeFile();
    await rm(this.tempPath, { force: true });
  }

  private async closeFile(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    if (fh) await fh.close();
  }

  get bytesWritten(): number {
    return this.written;
  }
}
