// What a build does with --cache-from and --cache-to: open and check the imports before any stage
// runs, and after a successful build export the entries it used (mode=min: those of the final
// image's layers; mode=max: every step of every stage built).
import type { Digest } from "../../common/digest.js";
import { RegistryError, type RegistryOptions } from "../../image/registry/api.js";
import { chainIdOf } from "../../runtime/snapshotter.js";
import { exportCache, type ExportResult, type UsedStep } from "./export.js";
import { ImportedCache } from "./import.js";
import { openCacheTransport } from "./open.js";
import type { CacheMode, CacheSpec } from "./spec.js";
import type { BlobStore } from "../../image/blobs.js";

/**
 * Opens every --cache-from cache. One that does not exist yet, or a registry that cannot be reached or
 * refuses us, is skipped with a warning (as BuildKit does: a cache is an optimisation). A cache that is
 * corrupt or not ours (ForeignCacheError) stops the build: it must be looked at, never trusted.
 */
export async function importCaches(specs: CacheSpec[], options: RegistryOptions, warn: (m: string) => void): Promise<ImportedCache[]> {
  const out: ImportedCache[] = [];
  for (const spec of specs) {
    const transport = await openCacheTransport(spec, options);
    let cache: ImportedCache | undefined;
    try {
      cache = await ImportedCache.load(transport);
    } catch (e) {
      if (!(e instanceof RegistryError)) throw e;
      warn(`cache ${transport.where}: ${e.message}; building without it`);
      continue;
    }
    if (cache === undefined) warn(`cache ${transport.where} not found; building without it`);
    else out.push(cache);
  }
  return out;
}

/**
 * The steps a cache export holds: min keeps those whose snapshot is in a final image's chain (one
 * per platform of the build: their records have their own keys, chained from their own bases).
 */
export function stepsForMode(used: Iterable<UsedStep>, mode: CacheMode, finals: Digest[][]): UsedStep[] {
  const all = [...used];
  if (mode === "max") return all;
  const chain = new Set<Digest>();
  for (const finalDiffIds of finals) {
    let c: Digest | null = null;
    for (const d of finalDiffIds) chain.add((c = chainIdOf(c, d)));
  }
  return all.filter((s) => chain.has(s.entry.chainId));
}

export async function exportCaches(
  specs: CacheSpec[], used: Iterable<UsedStep>, finals: Digest[][], store: BlobStore, tmpDir: string, options: RegistryOptions,
): Promise<Array<ExportResult & { where: string }>> {
  const steps = [...used]; // read once: every spec selects from the same list
  const results: Array<ExportResult & { where: string }> = [];
  for (const spec of specs) {
    const transport = await openCacheTransport(spec, options);
    const r = await exportCache(transport, stepsForMode(steps, spec.mode, finals), store, tmpDir);
    results.push({ ...r, where: transport.where });
  }
  return results;
}
