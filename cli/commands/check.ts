// `tsbuild system check [--repair]`: every room checks the part of the store it owns (image/check.ts,
// runtime/snapcheck.ts and leftovers.ts, cache/check.ts); one line per problem, like fsck, then a
// summary. --repair does what is safe (removes what nothing needs or what is broken and made again on
// demand) and says so.
// Under the store's GC lock: no build changes the store meanwhile (a running build is waited for).
import { existsSync } from "node:fs";
import type { Digest } from "../../common/digest.js";
import { UserError, errnoCode } from "../../common/errors.js";
import { withExclusiveLock } from "../../common/lock.js";
import type { CheckCounts, StoreProblem } from "../../common/storecheck.js";
import { storePaths, type StorePaths } from "../../common/storepaths.js";
import { checkCache, entriesWithoutSnapshot } from "../../cache/check.js";
import { pinnedRoots } from "../../cache/gc/plan.js";
import { CacheIndex } from "../../cache/index.js";
import { readPins } from "../../common/pins.js";
import { blobNames, checkBlobs, checkIndex } from "../../image/check.js";
import { chainIds, configProblem, isDescriptor, isIndexMediaType, type Descriptor, type ImageConfig, type ImageIndex } from "../../image/config.js";
import { platformEntries } from "../../image/registry/platform.js";
import { readIndex } from "../../image/layoutindex.js";
import { ContentStore } from "../../image/store.js";
import { waitingForBuilds } from "../waitnotice.js";
import { listContainers } from "../../runtime/containers.js";
import { checkLeftovers } from "../../runtime/leftovers.js";
import { checkContainers, checkSnapshots } from "../../runtime/snapcheck.js";

export async function runSystemCheck(root: string, opts: { repair?: boolean }): Promise<void> {
  const paths = storePaths(root);
  if (!existsSync(paths.indexJson)) throw new UserError(`${root}: no tsbuild store there (no index.json)`);
  const { problems, counts } = await withExclusiveLock(paths.gcLock, () => checkStore(paths), waitingForBuilds("system check"));
  let repaired = 0;
  for (const p of problems) {
    if (opts.repair === true && p.repair !== undefined) {
      process.stdout.write(`${p.line}: ${await p.repair()}\n`);
      repaired++;
    } else {
      process.stdout.write(`${p.line}${opts.repair === true ? ": left as it is (no safe repair)" : ""}\n`);
    }
  }
  const looked = Object.entries(counts).map(([what, n]) => `${n} ${what}`).join(", ");
  const found = problems.length === 0 ? "clean" : `${problems.length} problem${problems.length === 1 ? "" : "s"}`;
  const fixable = problems.filter((p) => p.repair !== undefined).length;
  const after = opts.repair === true ? `, ${repaired} repaired` : fixable > 0 ? ` (${fixable} can be repaired: --repair)` : "";
  process.stdout.write(`system check: ${found}${after}; checked ${looked}\n`);
  if (problems.length > 0) process.exitCode = 1;
}

async function checkStore(paths: StorePaths): Promise<{ problems: StoreProblem[]; counts: CheckCounts }> {
  const store = await ContentStore.open(paths);
  const blobs = await checkBlobs(paths);
  const index = await checkIndex(store);
  const cache = await checkCache(paths, await blobNames(paths));
  const referenced = new Set<Digest>(cache.chains.values());
  for (const chain of await imageChains(store)) referenced.add(chain);
  for (const c of await listContainers(paths)) if (c.parentChain !== null) referenced.add(c.parentChain);
  // what a build in progress has pinned (common/pins.ts) but not yet recorded in a cache entry or an image
  for (const c of (await pinnedRoots(store, new CacheIndex(paths.cache), await readPins(paths))).chains) referenced.add(c);
  const snapshots = await checkSnapshots(paths, referenced);
  const containers = await checkContainers(paths, snapshots.published);
  const leftovers = await checkLeftovers(paths);
  return {
    problems: [
      ...blobs.problems, ...index.problems, ...cache.problems,
      ...entriesWithoutSnapshot(paths, cache, snapshots.published), ...snapshots.problems, ...containers.problems,
      ...leftovers.problems,
    ],
    counts: { ...blobs.counts, ...index.counts, ...snapshots.counts, ...cache.counts, ...containers.counts },
  };
}

/** The platform manifests of the multi-platform images listed (whose index the index's check reads). */
async function indexChildren(store: ContentStore, entries: Descriptor[]): Promise<Descriptor[]> {
  const out: Descriptor[] = [];
  for (const entry of entries.filter((e) => isIndexMediaType(e.mediaType))) {
    try {
      out.push(...platformEntries(await store.readJson<ImageIndex>(entry.digest)).filter(isDescriptor));
    } catch (e) {
      if (e instanceof SyntaxError || e instanceof TypeError || errnoCode(e) === "ENOENT") continue;
      throw e;
    }
  }
  return out;
}

/** The chain IDs of every listed image whose config is readable (the index's check reports the others). */
async function imageChains(store: ContentStore): Promise<Digest[]> {
  const out: Digest[] = [];
  const entries = (await readIndex(store.paths)).manifests;
  for (const entry of [...entries, ...(await indexChildren(store, entries))]) {
    try {
      const manifest = await store.readJson<{ config?: { digest?: string } }>(entry.digest);
      const digest = manifest.config?.digest;
      if (typeof digest !== "string" || !/^sha256:[a-f0-9]{64}$/.test(digest)) continue;
      const config = await store.readJson<unknown>(digest as Digest);
      if (configProblem(config) === undefined) out.push(...chainIds((config as ImageConfig).rootfs.diff_ids));
    } catch (e) {
      if (e instanceof SyntaxError || errnoCode(e) === "ENOENT") continue;
      throw e;
    }
  }
  return out;
}
