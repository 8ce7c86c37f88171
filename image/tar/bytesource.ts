// Pull-style reading of exact byte counts from a stream, holding at most one chunk ahead in memory.
import { TarFileSource, type TarInput } from "./filesource.js";

export class ByteSource {
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private readonly iterator: AsyncIterator<unknown>;
  /** A stored file, which skip() moves through without reading what it skips. */
  private readonly file: TarFileSource | undefined;
  /** Bytes handed out or skipped so far (a body's place in the input; error messages). */
  offset = 0;

  constructor(input: TarInput) {
    this.iterator = (input as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    this.file = input instanceof TarFileSource ? input : undefined;
  }

  private async fill(): Promise<boolean> {
    while (!this.ended) {
      const next = await this.iterator.next();
      if (next.done === true) {
        this.ended = true;
        return false;
      }
      const value = next.value;
      const buf = typeof value === "string" ? Buffer.from(value) : Buffer.from(value as Uint8Array);
      if (buf.length === 0) continue;
      this.chunks.push(buf);
      this.buffered += buf.length;
      return true;
    }
    return false;
  }

  /** Up to `max` bytes (at least 1), or null at end of input. */
  async readSome(max: number): Promise<Buffer | null> {
    if (this.buffered === 0 && !(await this.fill())) return null;
    const head = this.chunks[0] as Buffer;
    const out = head.length <= max ? head : head.subarray(0, max);
    if (out.length === head.length) this.chunks.shift();
    else this.chunks[0] = head.subarray(max);
    this.buffered -= out.length;
    this.offset += out.length;
    return out;
  }

  /** Exactly n bytes if they are buffered already (no await: the common case of small entries), else undefined. */
  readBuffered(n: number): Buffer | undefined {
    const head = this.chunks[0];
    if (head === undefined || head.length < n) return undefined;
    const out = head.length === n ? head : head.subarray(0, n);
    if (out.length === head.length) this.chunks.shift();
    else this.chunks[0] = head.subarray(n);
    this.buffered -= n;
    this.offset += n;
    return out;
  }

  /** Exactly n bytes, or fewer if the input ends first. */
  async read(n: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n) {
      const part = await this.readSome(n - got);
      if (part === null) break;
      parts.push(part);
      got += part.length;
    }
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, got);
  }

  /** Discards n bytes; returns how many were there. */
  async skip(n: number): Promise<number> {
    let skipped = 0;
    while (skipped < n && this.buffered > 0) skipped += (this.readBuffered(Math.min(n - skipped, (this.chunks[0] as Buffer).length)) as Buffer).length;
    if (skipped < n && this.file !== undefined) {
      const ahead = this.file.skipAhead(n - skipped);
      skipped += ahead;
      this.offset += ahead;
    }
    while (skipped < n) {
      const part = await this.readSome(n - skipped);
      if (part === null) break;
      skipped += part.length;
    }
    return skipped;
  }

  /** Stops reading the input (ends the iteration, which destroys a Readable). */
  async close(): Promise<void> {
    if (!this.ended && this.iterator.return !== undefined) {
      this.ended = true;
      await this.iterator.return();
    }
  }
}
