// gzip for layers leaving the store (push, cache export), at zlib's default level except where the
// bytes look random: a 1 MiB block of already-compressed or random data (byte entropy of a sample at
// least 7.95 bits) is stored, not searched for matches that are not there. zlib searches such data at
// ~15-30 MB/s for a 0.03% larger result; stored, it passes at memory speed. (Go's builders compress
// with klauspost/compress, which skips incompressible input likewise.) What is lost: repeats within
// 32 KiB inside a random-looking block (two copies of one small .gz file side by side).
//
// One gzip member made here: the header, then the deflate stream as segments - a run of compressible
// blocks through one zlib raw deflate (ended with a sync flush, byte-aligned, when a stored run follows),
// a run of random blocks as stored blocks written here - then the final block, CRC-32 and size. zlib's
// params() cannot switch levels mid-stream here (Node 20 ignores its failure), hence the segments. A
// layer with no random block comes out byte for byte as zlib's createGzip() makes it, and the output
// never depends on how the input was chunked (the blocks are fixed 1 MiB pieces of the input).
import { Transform, type TransformCallback } from "node:stream";
import type { DeflateRaw } from "node:zlib";
import { constants as zlibConstants, crc32, createDeflateRaw } from "node:zlib";

const BLOCK = 1 << 20;
/** Sampled per block: SLICES pieces of SLICE bytes, spread evenly. */
const SLICE = 4096;
const SLICES = 16;
const RANDOM_BITS = 7.95;
const LEVEL = 6;
/** RFC 1952's header as zlib writes it: no name, no mtime, default flags, OS Unix. */
const HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
/** An empty stored block with BFINAL set: ends a deflate stream whose last segment was stored. */
const FINAL_EMPTY_STORED = Buffer.from([1, 0, 0, 0xff, 0xff]);
const STORED_MAX = 0xffff;

/** Shannon entropy of the sampled bytes of block, in bits per byte. */
export function sampledEntropy(block: Buffer): number {
  const counts = new Uint32Array(256);
  let total = 0;
  const step = block.length <= SLICE * SLICES ? block.length : Math.floor(block.length / SLICES);
  for (let start = 0; start < block.length; start += step) {
    const end = Math.min(block.length, start + Math.min(step, SLICE));
    for (let i = start; i < end; i++) counts[block[i] as number]++;
    total += end - start;
  }
  let bits = 0;
  for (const c of counts) {
    if (c === 0) continue;
    const p = c / total;
    bits -= p * Math.log2(p);
  }
  return bits;
}

export function createLayerGzip(): Transform {
  return new LayerGzip();
}

class LayerGzip extends Transform {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The deflate segment in progress; undefined during a stored run. */
  private segment: DeflateRaw | undefined;
  private crc = 0;
  private size = 0;

  constructor() {
    super();
    this.push(HEADER);
    this.segment = this.newSegment();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.drainBlocks(false).then(() => done(), done);
  }

  override _flush(done: TransformCallback): void {
    this.finish().then(() => done(), done);
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.segment?.destroy();
    done(error);
  }

  private newSegment(): DeflateRaw {
    const segment = createDeflateRaw({ level: LEVEL });
    segment.on("data", (chunk: Buffer) => this.push(chunk));
    segment.on("error", (e) => this.destroy(e));
    return segment;
  }

  /** Writes every whole block pending (and, at the end, the short rest), each as it looks. */
  private async drainBlocks(last: boolean): Promise<void> {
    while (this.pendingBytes >= BLOCK || (last && this.pendingBytes > 0)) {
      const all = this.pending.length === 1 ? (this.pending[0] as Buffer) : Buffer.concat(this.pending, this.pendingBytes);
      const block = all.subarray(0, Math.min(BLOCK, all.length));
      const rest = all.subarray(block.length);
      this.pending = rest.length > 0 ? [rest] : [];
      this.pendingBytes = rest.length;
      this.crc = crc32(block, this.crc);
      this.size = (this.size + block.length) % 2 ** 32;
      if (sampledEntropy(block) >= RANDOM_BITS) {
        await this.endSegment();
        this.pushStored(block);
      } else {
        this.segment ??= this.newSegment();
        const segment = this.segment;
        await new Promise<void>((written, failed) => segment.write(block, (e) => (e ? failed(e) : written())));
      }
    }
  }

  /** Ends the deflate segment byte-aligned without a final block (a sync flush), its output all pushed. */
  private async endSegment(): Promise<void> {
    const segment = this.segment;
    if (segment === undefined) return;
    this.segment = undefined;
    await new Promise<void>((flushed) => segment.flush(zlibConstants.Z_SYNC_FLUSH, () => flushed()));
    // zlib pushes a write's output before calling back, and a flowing stream hands it on at once;
    // whatever is still buffered is handed on before the segment is let go
    while (segment.readableLength > 0) await new Promise((next) => setImmediate(next));
    segment.removeAllListeners("data");
    segment.destroy();
  }

  private pushStored(block: Buffer): void {
    for (let at = 0; at < block.length; at += STORED_MAX) {
      const piece = block.subarray(at, at + STORED_MAX);
      const head = Buffer.alloc(5);
      head.writeUInt16LE(piece.length, 1);
      head.writeUInt16LE(~piece.length & 0xffff, 3);
      this.push(head);
      this.push(piece);
    }
  }

  private async finish(): Promise<void> {
    await this.drainBlocks(true);
    const segment = this.segment;
    if (segment === undefined) this.push(FINAL_EMPTY_STORED);
    else {
      await new Promise<void>((ended, failed) => {
        segment.once("end", ended);
        segment.once("error", failed);
        segment.end();
      });
    }
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(this.crc >>> 0, 0);
    trailer.writeUInt32LE(this.size, 4);
    this.push(trailer);
  }
}
