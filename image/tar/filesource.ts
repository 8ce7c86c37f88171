// A stored file read as a tar's bytes, from a position it keeps. ByteSource reads it as it reads any
// stream, and skips a body nobody asked for without reading it (skipAhead): the unpacker then has the
// kernel copy that body from the file instead (runtime/layer/fastapply.ts, native/unpack.c OP_COPY).
import { open } from "node:fs/promises";
import { READ_CHUNK } from "../../common/readchunk.js";

export class TarFileSource implements AsyncIterable<Buffer> {
  /** Bytes of the file read or skipped so far. */
  position = 0;
  private size: number | undefined;

  constructor(readonly path: string) {}

  /** Moves past up to n bytes without reading them; how many (0 before the file is open). */
  skipAhead(n: number): number {
    if (this.size === undefined) return 0;
    const skipped = Math.max(0, Math.min(n, this.size - this.position));
    this.position += skipped;
    return skipped;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    const fh = await open(this.path, "r");
    try {
      const size = (await fh.stat()).size;
      this.size = size;
      while (this.position < size) {
        const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, size - this.position));
        const { bytesRead } = await fh.read(buf, 0, buf.length, this.position);
        if (bytesRead === 0) return;
        this.position += bytesRead;
        yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
      }
    } finally {
      await fh.close();
    }
  }
}

/** What the tar reader reads: a stream, or a stored file it may skip ahead in. */
export type TarInput = NodeJS.ReadableStream | TarFileSource;
