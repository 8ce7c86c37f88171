// `tsbuild cache ls|du|prune`: the build cache's entries, their size, and pruning by least recent use.
// A prune drops index entries (cache/gc/entries.ts), then the one collector (cache/gc/) removes
// whatever nothing needs any more: snapshots (children before parents) and layer blobs.
import { createInterface } from "node:readline";
import { digestHex, type Digest } from "../../common/digest.js";
import { UserError } from "../../common/errors.js";
import { readPins } from "../../common/pins.js";
import { storePaths } from "../../common/storepaths.js";
import { CacheIndex, type CacheEntry } from "../../cache/index.js";
import { withCollector, type Collector } from "../../cache/gc/collector.js";
import { pruneCache } from "../../cache/gc/entries.js";
import { ContentStore } from "../../image/store.js";
import { humanSize, table, timeAgo } from "../format.js";
import { waitingForBuilds } from "../waitnotice.js";

/** Docker's RAMInBytes: a number with an optional binary unit (k, m, g, t; b and case optional). */
export function parseSize(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?\s*$/i.exec(s);
  if (m === null) throw new UserError(`invalid size '${s}' for --keep-storage (e.g. 512MB, 10GB, 1048576)`);
  const power = " kmgtp".indexOf((m[2] ?? "").toLowerCase() || " ");
  return Math.floor(Number(m[1]) * 1024 ** power);
}

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration (`24h`, `1h30m`, `90s`; `d` for days as well) in milliseconds. */
export function parseDuration(s: string): number {
  const bad = (): UserError => new UserError(`invalid duration '${s}' for --keep-duration (e.g. 24h, 1h30m, 7d)`);
  const units: Record<string, number> = { ...DURATION_UNITS, d: 86_400_000 };
  if (s.trim() === "0") return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/gy;
  let total = 0;
  let pos = 0;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    total += Number(m[1]) * (units[m[2] as string] as number);
    pos = re.lastIndex;
  }
  if (pos === 0 || pos !== s.length) throw bad();
  return total;
}

function shortKey(key: Digest): string {
  return digestHex(key).slice(0, 12);
}

/** Bytes the entries' layers take, each snapshot counted once (as pruneCache counts them). */
function entriesSize(entries: CacheEntry[]): number {
  const sizes = new Map<Digest, number>();
  for (const e of entries) sizes.set(e.chainId, Math.max(sizes.get(e.chainId) ?? 0, e.layerSize ?? 0));
  let total = 0;
  for (const n of sizes.values()) total += n;
  return total;
}

export async function runCacheLs(root: string, opts: { format?: string } = {}): Promise<void> {
  const entries = (await new CacheIndex(storePaths(root).cache).list()).sort((a, b) => b.lastUsed - a.lastUsed);
  if (opts.format === "json") {
    const rows = entries.map((e) => ({
      key: e.key, chainId: e.chainId, size: e.layerSize ?? 0, lastUsed: new Date(e.lastUsed).toISOString(),
      createdAt: new Date(e.createdAt).toISOString(), instruction: e.record.text,
    }));
    process.stdout.write(`${JSON.stringify(rows)}\n`);
    return;
  }
  if (opts.format !== undefined) throw new UserError(`unknown --format '${opts.format}' (supported: json)`);
  const now = Date.now();
  const rows = entries.map((e) => [
    shortKey(e.key),
    humanSize(e.layerSize ?? 0),
    timeAgo(new Date(e.lastUsed).toISOString(), now),
    timeAgo(new Date(e.createdAt).toISOString(), now),
    e.record.text.replace(/\s*\n\s*/g, " "),
  ]);
  process.stdout.write(table(["KEY", "SIZE", "LAST USED", "CREATED", "INSTRUCTION"], rows));
}

export async function runCacheDu(root: string): Promise<void> {
  const paths = storePaths(root);
  const entries = await new CacheIndex(paths.cache).list();
  const store = await ContentStore.open(paths);
  const protectedIds = await store.imageChains();
  const reclaimable = entriesSize(entries.filter((e) => !protectedIds.has(e.chainId)));
  process.stdout.write(
    table(["ENTRIES", "SIZE", "RECLAIMABLE"], [[String(entries.length), humanSize(entriesSize(entries)), humanSize(reclaimable)]]),
  );
  process.stdout.write(`Total: ${humanSize(entriesSize(entries))} in ${entries.length} entries\n`);
}

export interface StorePruneOptions {
  /** Also drop entries of snapshots that images use (the images themselves stay whole). */
  all?: boolean;
  keepStorage?: number;
  keepDurationMs?: number;
  now?: number;
}

export interface StorePruneResult {
  removedEntries: CacheEntry[];
  removedSnapshots: Digest[];
  removedBlobs: Digest[];
  /** Bytes freed on disk: removed snapshots' files plus removed blobs. */
  reclaimedBytes: number;
}

/**
 * Prunes the cache index, then removes the snapshots and layer blobs that nothing needs any more (an
 * image, a container, a remaining entry, a build's pin). Holds the store's GC lock throughout.
 */
export async function pruneStore(root: string, opts: StorePruneOptions = {}): Promise<StorePruneResult> {
  return withCollector(storePaths(root), (gc) => pruneCacheEntries(gc, opts), waitingForBuilds("cache prune"));
}

/** The cache part of a prune, with the store held (cache prune, system prune). */
export async function pruneCacheEntries(gc: Collector, opts: StorePruneOptions): Promise<StorePruneResult> {
  const pruned = await pruneCache(gc.cache, {
    keepStorage: opts.keepStorage,
    keepDurationMs: opts.keepDurationMs,
    protectedChainIds: opts.all ? new Set() : await gc.store.imageChains(),
    protectedKeys: (await readPins(gc.paths)).entries,
    now: opts.now,
  });
  const report = await gc.collect();
  return { removedEntries: pruned.removed, removedSnapshots: report.snapshots, removedBlobs: report.blobs, reclaimedBytes: report.bytes };
}

export interface CachePruneFlags {
  all?: boolean;
  keepStorage?: string;
  keepDuration?: string;
  force?: boolean;
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await new Promise<string>((resolve) => {
      rl.question(question, resolve);
      rl.once("close", () => resolve(""));
    });
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

export async function runCachePrune(root: string, flags: CachePruneFlags): Promise<void> {
  const opts: StorePruneOptions = {
    all: flags.all === true,
    keepStorage: flags.keepStorage === undefined ? undefined : parseSize(flags.keepStorage),
    keepDurationMs: flags.keepDuration === undefined ? undefined : parseDuration(flags.keepDuration),
  };
  if (!flags.force) {
    const what = opts.all ? "all build cache" : "build cache not used by an image";
    if (!(await confirm(`WARNING! This will remove ${what}. Are you sure you want to continue? [y/N] `))) return;
  }
  const result = await pruneStore(root, opts);
  if (result.removedEntries.length > 0) {
    process.stdout.write("Deleted build cache objects:\n");
    for (const e of result.removedEntries) process.stdout.write(`${shortKey(e.key)}  ${e.record.text.replace(/\s*\n\s*/g, " ")}\n`);
    process.stdout.write("\n");
  }
  process.stdout.write(`Total: ${humanSize(result.reclaimedBytes)} reclaimed\n`);
}
