// A previous layer tar as a source of ready-made members: when a COPY wrote a file exactly as the
// previous build of the step did (same content, owner, mode, size, mtime, no xattrs: builder/copy/
// reuse.ts), that file's member in the previous layer (header, body, padding) is exactly what this
// layer needs, so it is copied from there instead of re-read and re-encoded. Only regular-file members
// without extended headers are offered: such a member depends on nothing else.
import { closeSync, openSync, readSync } from "node:fs";
import { decodeHeader, isZeroBlock } from "../../image/tar/decode.js";
import { normaliseArchivePath } from "../../image/tar/index.js";
import { BLOCK_SIZE, paddingFor } from "../../image/tar/types.js";

/** Where one member's bytes are in the tar. */
export interface MemberRange {
  start: number;
  end: number;
}

const WINDOW = 1 << 20;

/** A file read through a 1 MiB window (a tar is read front to back, mostly). */
class WindowedFile {
  private buf = Buffer.alloc(WINDOW);
  private from = 0;
  private len = 0;

  constructor(readonly fd: number) {}

  /** `n` bytes at `offset` (n ≤ WINDOW); fewer at the end of the file. */
  bytes(offset: number, n: number): Buffer {
    if (offset < this.from || offset + n > this.from + this.len) {
      this.from = offset;
      this.len = readSync(this.fd, this.buf, 0, WINDOW, offset);
    }
    const at = offset - this.from;
    return this.buf.subarray(at, Math.min(at + n, this.len));
  }
}

/** The plain regular-file members of the tar at `path`, by archive path. Anything else is left out. */
export function indexPlainFiles(path: string): Map<string, MemberRange> {
  const out = new Map<string, MemberRange>();
  const fd = openSync(path, "r");
  try {
    const file = new WindowedFile(fd);
    let offset = 0;
    let extended = false;
    for (;;) {
      const block = file.bytes(offset, BLOCK_SIZE);
      if (block.length < BLOCK_SIZE || isZeroBlock(block)) return out;
      const raw = decodeHeader(Buffer.from(block), offset);
      const end = offset + BLOCK_SIZE + raw.size + paddingFor(raw.size);
      const flag = raw.typeflag;
      if (flag === "g") return new Map(); // global headers change every later member: offer nothing
      // A member behind an extended header (long name, xattrs, large ids) is not offered: it is written anew.
      if ((flag === "0" || flag === "\0") && !extended) {
        out.set(normaliseArchivePath(raw.name.toString("utf8")), { start: offset, end });
      }
      extended = flag === "x" || flag === "L" || flag === "K";
      offset = end;
    }
  } finally {
    closeSync(fd);
  }
}

/** Copies byte ranges of a donor tar out, coalescing adjacent ones, in chunks of at most 1 MiB. */
export class DonorTar {
  private readonly fd: number;
  private pendingStart = 0;
  private pendingEnd = 0;

  constructor(
    path: string,
    readonly members: Map<string, MemberRange>,
  ) {
    this.fd = openSync(path, "r");
  }

  /** Queues a member's bytes; returns the chunks that are ready to be written (often none). */
  take(range: MemberRange): Buffer[] {
    if (this.pendingEnd === range.start && this.pendingEnd > this.pendingStart) {
      this.pendingEnd = range.end;
      return this.pendingEnd - this.pendingStart >= WINDOW ? this.flush() : [];
    }
    const ready = this.flush();
    this.pendingStart = range.start;
    this.pendingEnd = range.end;
    return ready;
  }

  /** The queued bytes, read now. */
  flush(): Buffer[] {
    const out: Buffer[] = [];
    for (let at = this.pendingStart; at < this.pendingEnd; ) {
      const n = Math.min(WINDOW, this.pendingEnd - at);
      const buf = Buffer.allocUnsafe(n);
      const got = readSync(this.fd, buf, 0, n, at);
      if (got !== n) throw new Error(`previous layer ended early at byte ${at + got}`);
      out.push(buf);
      at += n;
    }
    this.pendingStart = this.pendingEnd = 0;
    return out;
  }

  close(): void {
    closeSync(this.fd);
  }
}
