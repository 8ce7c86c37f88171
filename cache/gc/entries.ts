// Which build cache entries a prune drops: least recently used first, by age or until the cache fits in
// a size; entries whose snapshot an image uses are protected unless asked (cache prune --all). What the
// dropped entries held then goes if nothing else holds it (the collector: plan.ts, apply.ts).
import type { Digest } from "../../common/digest.js";
import type { CacheEntry, CacheIndex } from "../index.js";

export interface PruneOptions {
  /** Entries not used for longer than this are removed. */
  keepDurationMs?: number;
  /** Then least recently used entries go until the layers still referenced total at most this many bytes. */
  keepStorage?: number;
  /** Entries whose chainId is here are never removed (images that are tagged, builds in progress). */
  protectedChainIds?: ReadonlySet<Digest>;
  /** Entries with these keys are never removed (pinned by a build in progress: common/pins.ts). */
  protectedKeys?: ReadonlySet<Digest>;
  /** Only report what would go. */
  dryRun?: boolean;
  now?: number;
}

export interface PruneResult {
  removed: CacheEntry[];
  /** Bytes of layers no remaining entry refers to. */
  freedBytes: number;
  /** Chain ids no remaining entry refers to: the caller may drop those snapshots (unless used elsewhere). */
  unreferencedChainIds: Digest[];
}

/**
 * Prunes the cache index by least recent use. With neither keepDurationMs nor keepStorage every
 * unprotected entry goes. Several entries can share a snapshot (same chainId); its size counts once
 * and is freed only with the last entry that refers to it.
 */
export async function pruneCache(index: CacheIndex, opts: PruneOptions = {}): Promise<PruneResult> {
  const now = opts.now ?? Date.now();
  const protectedIds = opts.protectedChainIds ?? new Set<Digest>();
  const entries = (await index.list()).sort((a, b) => a.lastUsed - b.lastUsed || (a.key < b.key ? -1 : 1));

  const refs = new Map<Digest, number>();
  const sizes = new Map<Digest, number>();
  for (const e of entries) {
    refs.set(e.chainId, (refs.get(e.chainId) ?? 0) + 1);
    sizes.set(e.chainId, Math.max(sizes.get(e.chainId) ?? 0, e.layerSize ?? 0));
  }
  let total = 0;
  for (const size of sizes.values()) total += size;

  const result: PruneResult = { removed: [], freedBytes: 0, unreferencedChainIds: [] };
  const drop = (e: CacheEntry): void => {
    result.removed.push(e);
    const left = (refs.get(e.chainId) ?? 1) - 1;
    refs.set(e.chainId, left);
    if (left === 0) {
      const size = sizes.get(e.chainId) ?? 0;
      total -= size;
      result.freedBytes += size;
      result.unreferencedChainIds.push(e.chainId);
    }
  };

  const noLimits = opts.keepDurationMs === undefined && opts.keepStorage === undefined;
  for (const e of entries) {
    if (protectedIds.has(e.chainId) || opts.protectedKeys?.has(e.key) === true) continue;
    const tooOld = opts.keepDurationMs !== undefined && now - e.lastUsed > opts.keepDurationMs;
    const tooBig = opts.keepStorage !== undefined && total > opts.keepStorage;
    if (noLimits || tooOld || tooBig) drop(e);
  }
  if (!opts.dryRun) {
    for (const e of result.removed) await index.remove(e.key);
  }
  return result;
}
