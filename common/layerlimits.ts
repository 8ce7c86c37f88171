// What one layer may expand to. A 13 MB docker-archive whose layer expanded to 10.5 GB was loaded in
// two minutes and stored whole (a decompression bomb). The defaults are far above real images: a layer
// up to 64 GiB uncompressed, and past its first GiB at most 200 times its compressed size (real layers
// compress 2 to 10 times; zeros in gzip reach ~1000). TSBUILD_MAX_LAYER_SIZE (bytes, or 100G) and
// TSBUILD_MAX_LAYER_RATIO raise them.
import { Transform, type TransformCallback } from "node:stream";
import { ArchiveError, UserError } from "./errors.js";

export interface LayerLimits {
  /** Most bytes a layer may have uncompressed. */
  maxBytes: number;
  /** Most uncompressed bytes per compressed byte, once past `ratioFrom` uncompressed bytes. */
  maxRatio: number;
  ratioFrom: number;
}

const GIB = 1024 ** 3;

export function layerLimits(env: NodeJS.ProcessEnv = process.env): LayerLimits {
  return {
    maxBytes: envNumber(env, "TSBUILD_MAX_LAYER_SIZE", 64 * GIB, true),
    maxRatio: envNumber(env, "TSBUILD_MAX_LAYER_RATIO", 200, false),
    ratioFrom: GIB,
  };
}

function envNumber(env: NodeJS.ProcessEnv, name: string, fallback: number, size: boolean): number {
  const text = env[name];
  if (text === undefined || text === "") return fallback;
  const m = (size ? /^(\d+(?:\.\d+)?)([kmgt]?)(i?b)?$/i : /^(\d+(?:\.\d+)?)()()$/).exec(text.trim());
  if (m === null) throw new UserError(`${name}=${text.slice(0, 40)}: not a ${size ? "size (e.g. 100G)" : "number"}`);
  return Math.floor(Number(m[1]) * 1024 ** " kmgt".indexOf((m[2] ?? "").toLowerCase() || " "));
}

/**
 * A pass-through on a layer's uncompressed bytes that fails once they pass the limits; `compressed()`
 * says how many compressed bytes have been read so far (undefined: the layer is not compressed).
 */
export class LayerLimitCheck extends Transform {
  private bytes = 0;

  constructor(private readonly what: string, private readonly compressed: () => number | undefined, private readonly limits = layerLimits()) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    const l = this.limits;
    if (this.bytes > l.maxBytes) {
      cb(new ArchiveError(`${this.what}: expands past ${size(l.maxBytes)}, the most a layer may (TSBUILD_MAX_LAYER_SIZE raises it)`));
      return;
    }
    const packed = this.compressed();
    if (packed !== undefined && this.bytes > l.ratioFrom && this.bytes > l.maxRatio * Math.max(packed, 1)) {
      cb(new ArchiveError(`${this.what}: ${size(packed)} compressed expand past ${size(this.bytes)}, more than ${l.maxRatio} times (a decompression bomb? TSBUILD_MAX_LAYER_RATIO raises the limit)`));
      return;
    }
    cb(null, chunk);
  }
}

function size(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}
