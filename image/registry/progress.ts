// What pull and push tell the outside world per layer (Docker's per-layer status lines) and a
// pass-through stream that reports bytes as they go. Nothing here prints: cli/ renders the events.
import { Transform, type TransformCallback } from "node:stream";
import { digestHex, type Digest } from "../../common/digest.js";

export type TransferEvent =
  /** A status change of one layer: `Pulling fs layer`, `Download complete`, `Pull complete`, `Pushed`, … */
  | { type: "layer"; id: string; status: string }
  /** Bytes moved for one layer (sent every 256 KiB and at the end). */
  | { type: "progress"; id: string; current: number; total: number };

export type TransferSink = (e: TransferEvent) => void;

/** The 12-hex-digit id Docker prints for a layer. */
export function shortDigest(d: Digest): string {
  return digestHex(d).slice(0, 12);
}

const STEP = 256 * 1024;

/** Counts bytes flowing through and reports them to `sink` for layer `id`. */
export class ProgressTap extends Transform {
  private current = 0;
  private reported = 0;

  constructor(private readonly id: string, private readonly total: number, private readonly sink: TransferSink) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.current += chunk.length;
    if (this.current - this.reported >= STEP) {
      this.reported = this.current;
      this.sink({ type: "progress", id: this.id, current: this.current, total: this.total });
    }
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this.sink({ type: "progress", id: this.id, current: this.current, total: this.total });
    cb();
  }
}
