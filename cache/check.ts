// The cache's part of `system check`: every entry readable, its snapshot published and its layer
// stored. A broken entry is removed by a repair: the step is then built again (a cache is only a memo).
import { readFile, rm } from "node:fs/promises";
import { join, relative } from "node:path";
import { digestHex, type Digest } from "../common/digest.js";
import { errnoCode } from "../common/errors.js";
import { listDirIfExists } from "../common/fsutil.js";
import type { CheckResult, StoreProblem } from "../common/storecheck.js";
import type { StorePaths } from "../common/storepaths.js";
import type { CacheEntry } from "./index.js";

export interface CacheCheck extends CheckResult {
  /** Entry file → the chain ID it restores (what the snapshots' check counts as referenced). */
  chains: Map<string, Digest>;
  /** Entry files without a layer: only their snapshot restores them. */
  layerless: Set<string>;
}

/** Entries readable and their layers stored (`blobs`: the names in blobs/sha256). */
export async function checkCache(paths: StorePaths, blobs: ReadonlySet<string>): Promise<CacheCheck> {
  const problems: StoreProblem[] = [];
  const chains = new Map<string, Digest>();
  const layerless = new Set<string>();
  const keysDir = join(paths.cache, "keys");
  let entries = 0;
  for (const name of await listDirIfExists(keysDir)) {
    if (!/^[a-f0-9]{64}\.json$/.test(name)) continue; // temporary files: the leftovers' check
    const file = join(keysDir, name);
    const where = relative(paths.root, file);
    const head = await readHead(file);
    if (head === undefined) continue; // removed meanwhile
    entries++;
    if (head === "damaged") {
      problems.push({ line: `${where}: damaged cache entry`, repair: () => removed(file) });
      continue;
    }
    if (head.diffId !== undefined && !blobs.has(digestHex(head.diffId))) {
      problems.push({ line: `${where}: its layer ${head.diffId} is missing`, repair: () => removed(file) });
    } else {
      chains.set(file, head.chainId);
      if (head.diffId === undefined) layerless.add(file);
    }
  }
  return { problems, counts: { "cache entries": entries }, chains, layerless };
}

/**
 * Entries whose snapshot is not among the `published` (sound) ones and that have no layer to make it
 * from (an entry with its layer is made into a snapshot when a step runs on it: builder/session.ts
 * materialize; one restored from --cache-from has none until then).
 */
export function entriesWithoutSnapshot(paths: StorePaths, cache: Pick<CacheCheck, "chains" | "layerless">, published: ReadonlySet<Digest>): StoreProblem[] {
  return [...cache.chains].filter(([file, chain]) => cache.layerless.has(file) && !published.has(chain)).map(([file, chain]) => ({
    line: `${relative(paths.root, file)}: its snapshot ${chain} is missing or broken`,
    repair: () => removed(file),
  }));
}

type Head = Pick<CacheEntry, "chainId" | "diffId">;

/** The entry's first line (cache/index.ts: a head line, then the record). */
async function readHead(file: string): Promise<Head | "damaged" | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return undefined;
    throw e;
  }
  const newline = text.indexOf("\n");
  try {
    const v = JSON.parse(newline < 0 ? text : text.slice(0, newline)) as Partial<Head>;
    if (typeof v.chainId === "string" && /^sha256:[a-f0-9]{64}$/.test(v.chainId)) return v as Head;
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
  }
  return "damaged";
}

async function removed(path: string): Promise<string> {
  await rm(path, { force: true });
  return "removed";
}
