// Where an image's bytes go (dive's idea): each layer's files added, changed and deleted, and the bytes
// it holds that a later layer overwrites or deletes (wasted: shipped and stored, never seen). Fed with
// the layers' tar entries in order; the caller reads the blobs. Whiteouts and opaque folders are read
// as the OCI layer spec defines them.
import { posix } from "node:path";

export interface LayerEntry {
  path: string;
  type: "file" | "dir" | "symlink" | "hardlink" | "char" | "block" | "fifo";
  size: number;
  /** The file's content digest when the caller hashed it (for --against). */
  digest?: string;
  mode: number;
  linkname?: string;
}

export interface LayerReport {
  index: number;
  digest: string;
  createdBy: string;
  /** Bytes of the layer's files (regular files, symlink targets), as Docker sizes layers. */
  size: number;
  added: number;
  changed: number;
  deleted: number;
  /** Bytes of this layer's files that later layers overwrite or delete. */
  wastedBytes: number;
}

export interface ImageWaste {
  layers: LayerReport[];
  totalBytes: number;
  wastedBytes: number;
  /** (total - wasted) / total, 1 for an empty image. */
  efficiency: number;
  /** The merged root filesystem: path → the entry that shows, and the layer it is from. */
  files: Map<string, LayerEntry & { layer: number }>;
}

const OPAQUE = ".wh..wh..opq";
const WHITEOUT = ".wh.";

function clean(p: string): string {
  return posix.normalize(`/${p}`).replace(/\/$/, "") || "/";
}

function bytesOf(e: LayerEntry): number {
  return e.type === "file" ? e.size : e.type === "symlink" ? Buffer.byteLength(e.linkname ?? "") : 0;
}

export class WasteCounter {
  private readonly files = new Map<string, LayerEntry & { layer: number }>();
  private readonly layers: LayerReport[] = [];

  /** Starts the next layer (bottom first). */
  layer(digest: string, createdBy: string): void {
    this.layers.push({ index: this.layers.length, digest, createdBy, size: 0, added: 0, changed: 0, deleted: 0, wastedBytes: 0 });
  }

  private current(): LayerReport {
    const l = this.layers[this.layers.length - 1];
    if (!l) throw new Error("WasteCounter.entry before layer");
    return l;
  }

  /** Removes `path` (and what is under it) as hidden by the current layer; returns the files removed. */
  private hide(path: string, keepSelf: boolean): number {
    let removed = 0;
    const layer = this.current();
    for (const [p, f] of this.files) {
      const under = p === path || p.startsWith(path === "/" ? "/" : `${path}/`);
      if (!under || (keepSelf && p === path) || f.layer === layer.index) continue;
      (this.layers[f.layer] as LayerReport).wastedBytes += bytesOf(f);
      this.files.delete(p);
      if (f.type !== "dir") removed++;
    }
    return removed;
  }

  entry(e: LayerEntry): void {
    const layer = this.current();
    const path = clean(e.path);
    if (path === "/") return;
    const base = posix.basename(path);
    const dir = posix.dirname(path);
    if (base === OPAQUE) {
      layer.deleted += this.hide(dir, true);
      return;
    }
    if (base.startsWith(WHITEOUT)) {
      layer.deleted += Math.max(1, this.hide(posix.join(dir, base.slice(WHITEOUT.length)), false));
      return;
    }
    layer.size += bytesOf(e);
    const before = this.files.get(path);
    if (e.type !== "dir") {
      if (before === undefined) layer.added++;
      else if (before.layer !== layer.index) {
        layer.changed++;
        (this.layers[before.layer] as LayerReport).wastedBytes += bytesOf(before);
      }
    }
    // a file replacing a folder hides what the folder held
    if (before?.type === "dir" && e.type !== "dir") layer.deleted += this.hide(path, true);
    this.files.set(path, { ...e, path, layer: layer.index });
  }

  result(): ImageWaste {
    const totalBytes = this.layers.reduce((n, l) => n + l.size, 0);
    const wastedBytes = this.layers.reduce((n, l) => n + l.wastedBytes, 0);
    return { layers: this.layers, totalBytes, wastedBytes, efficiency: totalBytes === 0 ? 1 : (totalBytes - wastedBytes) / totalBytes, files: this.files };
  }
}

export interface FileDifference { kind: "A" | "C" | "D"; path: string }

/** How `other`'s merged files differ from `base`'s (A: only in other, D: only in base, C: differs). */
export function compareFiles(base: ImageWaste["files"], other: ImageWaste["files"]): FileDifference[] {
  const out: FileDifference[] = [];
  const same = (a: LayerEntry, b: LayerEntry): boolean =>
    a.type === b.type && a.mode === b.mode && a.size === b.size && a.linkname === b.linkname && a.digest === b.digest;
  for (const [p, b] of base) {
    const o = other.get(p);
    if (o === undefined) out.push({ kind: "D", path: p });
    else if (b.type !== "dir" && !same(b, o)) out.push({ kind: "C", path: p });
  }
  for (const p of other.keys()) if (!base.has(p)) out.push({ kind: "A", path: p });
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
