// A layer's tar structure, checked at load: a truncated or corrupt layer fails the load, naming the
// archive, the layer and the image, instead of the first build or run that unpacks it.
import { createReadStream } from "node:fs";
import { Readable, Transform, type TransformCallback } from "node:stream";
import { ArchiveError } from "../../common/errors.js";
import { readTar } from "../tar/reader.js";
import { READ_CHUNK } from "../../common/readchunk.js";

/** Reads a layer tar through to its end-of-archive marker (bodies are skipped unread). */
export async function checkLayerTar(path: string, what: string): Promise<void> {
  try {
    for await (const member of readTar(createReadStream(path, { highWaterMark: READ_CHUNK }))) void member;
  } catch (e) {
    throw checkFailure(e, what);
  }
}

/** The reader's error for a layer, worded with the layer's place (`what`); others as they are. */
export function checkFailure(e: unknown, what: string): unknown {
  return e instanceof ArchiveError ? new ArchiveError(`${what}: ${e.message}`) : e;
}

/**
 * checkLayerTar on bytes as they flow by (the load's extraction: a layer is not read again to be
 * checked). Passes every chunk on; `failure()` after the end is the reader's error for bytes that are
 * not a whole tar (any member of an archive is looked at: only the load knows which are layers).
 */
export class TarCheckTap extends Transform {
  private readonly feed: Readable;
  private readonly reading: Promise<void>;
  private error: ArchiveError | undefined;
  /** Anything else the reader threw (handled here, so it is never an unhandled rejection meanwhile). */
  private fatal: Error | undefined;
  /** The transform waiting for the reader to want more (or to have given up). */
  private waiting: (() => void) | undefined;

  constructor() {
    super({ highWaterMark: READ_CHUNK });
    const feed = new Readable({ highWaterMark: READ_CHUNK, read: () => this.wake() });
    this.feed = feed;
    this.reading = (async () => {
      try {
        for await (const member of readTar(feed)) void member;
      } catch (e) {
        if (e instanceof ArchiveError) this.error = e;
        else this.fatal = e instanceof Error ? e : new Error(String(e));
      }
      this.wake();
    })();
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.fatal !== undefined) return cb(this.fatal);
    if (this.error !== undefined || this.feed.push(chunk)) return cb(null, chunk);
    this.waiting = () => cb(this.fatal ?? null, chunk); // the reader is behind: wait for it (or for its failure)
  }

  override _flush(cb: TransformCallback): void {
    if (this.error === undefined && this.fatal === undefined) this.feed.push(null);
    void this.reading.then(() => cb(this.fatal));
  }

  override _destroy(error: Error | null, cb: (error?: Error | null) => void): void {
    this.feed.destroy(); // a pipeline that failed elsewhere: the reader stops too
    cb(error);
  }

  /** After the stream has ended: undefined if the bytes were a whole tar, else the reader's error. */
  get failure(): ArchiveError | undefined {
    return this.error;
  }
}
