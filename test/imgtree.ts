// TypeScript twin of /work/shared/oracle/imgtree.py: a docker-archive tar summarised as the merged
// root filesystem (whiteouts applied; path, type, mode, uid, gid, size, sha256, link), the config
// fields a Dockerfile sets and the history. Same output shape and the same quirks, so it compares with
// recorded JSON.
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, readFileSync, readSync, openSync, closeSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { execFileSync } from "node:child_process";
import { walkTar } from "./tar.js";

export type FileEntry = Record<string, string | number | number[]>;
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** One history entry as imgtree.py keeps it: what made it and whether it made a layer. */
export interface HistoryLine {
  created_by: string;
  empty_layer: boolean;
}

export interface ImageSummary {
  layers: number;
  diff_ids: number;
  os: string | null;
  architecture: string | null;
  config: Record<string, Json>;
  history: HistoryLine[];
  files: Record<string, FileEntry>;
}

const CONFIG_KEYS = ["Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Volumes",
  "Labels", "StopSignal", "Healthcheck", "Shell", "OnBuild"];

/** Python's `os.path.normpath("/" + p.lstrip("./"))`, quirk included (leading dots are stripped). */
export function normName(p: string): string {
  if (p === "." || p === "./") return "/";
  const n = posix.normalize("/" + p.replace(/^[./]+/, ""));
  return n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n;
}

function applyLayer(tree: Map<string, FileEntry>, layerTar: string): void {
  const names: string[] = [];
  walkTar(layerTar, (e) => names.push(e.name));
  // opaque markers and whiteouts act on lower layers only: all of them first
  for (const name of names) {
    const p = normName(name);
    const d = posix.dirname(p);
    const b = posix.basename(p);
    if (b === ".wh..wh..opq") {
      const prefix = d.replace(/\/$/, "") + "/";
      for (const k of [...tree.keys()]) if (k.startsWith(prefix)) tree.delete(k);
    } else if (b.startsWith(".wh.")) {
      const victim = posix.join(d, b.slice(4));
      for (const k of [...tree.keys()]) if (k === victim || k.startsWith(victim + "/")) tree.delete(k);
    }
  }
  walkTar(layerTar, (m, read) => {
    const p = normName(m.name);
    if (posix.basename(p).startsWith(".wh.")) return;
    let e: FileEntry = { mode: "0o" + (m.mode & 0o7777).toString(8), uid: m.uid, gid: m.gid };
    switch (m.type) {
      case "dir": e.type = "dir"; break;
      case "symlink": e.type = "symlink"; e.link = m.linkname; break;
      case "hardlink": {
        const target = tree.get(normName(m.linkname));
        e = target ? { ...target } : { type: "file", dangling_hardlink: m.linkname };
        break;
      }
      case "file": {
        const h = createHash("sha256");
        read((b) => h.update(b));
        e.type = "file"; e.size = m.size; e.sha256 = h.digest("hex");
        break;
      }
      case "chr": case "blk": e.type = m.type; e.dev = [m.devmajor, m.devminor]; break;
      case "fifo": e.type = "fifo"; break;
      default: break;
    }
    const old = tree.get(p);
    if (e.type === "dir" && old?.type === "dir") Object.assign(old, e);
    else tree.set(p, e);
  });
}

function isGzip(path: string): boolean {
  const fd = openSync(path, "r");
  try {
    const b = Buffer.alloc(2);
    return readSync(fd, b, 0, 2, 0) === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

/** Summarises a docker-archive tar (as `docker save` / `tsbuild save` write it). */
export async function summarizeArchive(archive: string): Promise<ImageSummary> {
  const dir = await mkdtemp(join(tmpdir(), "imgtree-"));
  try {
    execFileSync("tar", ["-xf", archive, "-C", dir]);
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as { Config: string; Layers: string[] }[];
    const first = manifest[0];
    if (!first) throw new Error(`${archive}: empty manifest.json`);
    const config = JSON.parse(readFileSync(join(dir, first.Config), "utf8")) as {
      config?: Record<string, Json>; os?: string; architecture?: string; rootfs?: { diff_ids?: string[] };
      history?: Array<{ created_by?: string; empty_layer?: boolean }>;
    };
    const tree = new Map<string, FileEntry>();
    for (const [i, layer] of first.Layers.entries()) {
      let layerTar = join(dir, layer);
      if (isGzip(layerTar)) {
        const plain = join(dir, `.layer-${i}.tar`);
        await pipeline(createReadStream(layerTar), createGunzip(), createWriteStream(plain));
        layerTar = plain;
      }
      applyLayer(tree, layerTar);
    }
    tree.delete("/");
    const c = config.config ?? {};
    const picked: Record<string, Json> = {};
    for (const k of CONFIG_KEYS) {
      const v = c[k];
      const empty = v === undefined || v === null || (Array.isArray(v) && v.length === 0)
        || (typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 0);
      if (!empty) picked[k] = v;
    }
    const files: Record<string, FileEntry> = {};
    for (const k of [...tree.keys()].sort()) files[k] = tree.get(k)!;
    return {
      layers: first.Layers.length,
      diff_ids: config.rootfs?.diff_ids?.length ?? 0,
      os: config.os ?? null,
      architecture: config.architecture ?? null,
      config: picked,
      history: (config.history ?? []).map((h) => ({ created_by: h.created_by ?? "", empty_layer: h.empty_layer === true })),
      files,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Differences between an expected and an actual summary, one line each (as difftest.py words them).
 * History (created_by and empty_layer of every entry) is compared exactly when the recording has it.
 */
export function compareSummaries(expected: Pick<ImageSummary, "config" | "files"> & { history?: HistoryLine[] }, actual: ImageSummary): string[] {
  const diffs: string[] = [];
  const same = (a: unknown, b: unknown): boolean => JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
  if (expected.history !== undefined) {
    const n = Math.max(expected.history.length, actual.history.length);
    for (let i = 0; i < n; i++) {
      if (!same(expected.history[i], actual.history[i])) {
        diffs.push(`history[${i}]: buildkit=${JSON.stringify(expected.history[i])} tsbuild=${JSON.stringify(actual.history[i])}`);
      }
    }
  }
  for (const k of [...new Set([...Object.keys(expected.config), ...Object.keys(actual.config)])].sort()) {
    if (!same(expected.config[k], actual.config[k])) {
      diffs.push(`config.${k}: buildkit=${JSON.stringify(expected.config[k])} tsbuild=${JSON.stringify(actual.config[k])}`);
    }
  }
  for (const p of [...new Set([...Object.keys(expected.files), ...Object.keys(actual.files)])].sort()) {
    if (!same(expected.files[p], actual.files[p])) {
      diffs.push(`file ${p}: buildkit=${JSON.stringify(expected.files[p])} tsbuild=${JSON.stringify(actual.files[p])}`);
    }
  }
  return diffs;
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => [k, sortKeys(x)]));
  }
  return v;
}
