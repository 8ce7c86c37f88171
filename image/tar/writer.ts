// A streaming tar writer: headers from TarEntry, bodies from Buffers or streams, with backpressure.
import { once } from "node:events";
import { ArchiveError } from "../../common/errors.js";
import { encodeHeader } from "./header.js";
import { BLOCK_SIZE, paddingFor, type TarEntry } from "./types.js";

/** Output is handed on in chunks of this size: one write per header and pad would be tens of
 * thousands of awaited writes for a large tree. */
const FLUSH_BYTES = 1 << 20;

export class TarWriter {
  private busy = false;
  private finished = false;
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly out: NodeJS.WritableStream) {}

  /**
   * Writes one entry. `body` must hold exactly entry.size bytes (files only). Calls must not overlap:
   * await each add before the next.
   */
  async add(entry: TarEntry, body?: Buffer | NodeJS.ReadableStream): Promise<void> {
    if (this.busy) throw new Error("TarWriter.add called while a previous add is still running");
    if (this.finished) throw new Error("TarWriter.add called after finish");
    this.busy = true;
    try {
      await this.write(encodeHeader(entry));
      const size = entry.type === "file" ? entry.size : 0;
      let written = 0;
      if (Buffer.isBuffer(body)) {
        written = body.length;
        if (written !== size) throw sizeMismatch(entry, written);
        if (written > 0) await this.write(body);
      } else if (body !== undefined) {
        for await (const chunk of body) {
          const buf = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
          written += buf.length;
          if (written > size) throw sizeMismatch(entry, written);
          await this.write(buf);
        }
      }
      if (written !== size) throw sizeMismatch(entry, written);
      const pad = paddingFor(size);
      if (pad > 0) await this.write(Buffer.alloc(pad));
    } finally {
      this.busy = false;
    }
  }

  /** Writes members that are already encoded (copied from another archive): header, body and padding. */
  async addRaw(members: Buffer): Promise<void> {
    if (this.busy) throw new Error("TarWriter.addRaw called while a previous add is still running");
    if (this.finished) throw new Error("TarWriter.addRaw called after finish");
    if (members.length % BLOCK_SIZE !== 0) throw new Error("TarWriter.addRaw: not whole 512-byte blocks");
    await this.write(members);
  }

  /**
   * Writes the end-of-archive marker (two zero blocks) and, unless end=false, ends `out` and waits
   * until it has flushed ('finish').
   */
  async finish(options: { end?: boolean } = {}): Promise<void> {
    if (this.busy) throw new Error("TarWriter.finish called while an add is still running");
    if (this.finished) return;
    this.finished = true;
    await this.write(Buffer.alloc(2 * BLOCK_SIZE));
    await this.flush();
    if (options.end === false) return;
    const done = once(this.out, "finish");
    this.out.end();
    await done;
  }

  private async write(buf: Buffer): Promise<void> {
    this.pending.push(buf);
    this.pendingBytes += buf.length;
    if (this.pendingBytes >= FLUSH_BYTES) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const chunk = this.pending.length === 1 ? (this.pending[0] as Buffer) : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    if (!this.out.write(chunk)) await once(this.out, "drain");
  }
}

function sizeMismatch(entry: TarEntry, written: number): ArchiveError {
  return new ArchiveError(`tar entry ${entry.path}: body has ${written > entry.size ? "more than " + entry.size : written} bytes but the header says ${entry.size}`);
}
