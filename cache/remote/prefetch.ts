// Layers of a --cache-from cache fetched ahead of the steps that will ask for them. When a step hits a
// record, the records that follow it in the cache's chain (the only child of each, LOOKAHEAD deep) are
// fetched meanwhile into uncommitted store ingests, so that the next step's download overlaps this
// one's and its unpack. The step that hits one of them takes it (committed then, after the step's pins);
// what no step took is cancelled and dropped when the build ends. Nothing reaches the store for a step
// that misses: guessing wrong costs a download, at most LOOKAHEAD layers. (BuildKit resolves the whole
// cache graph first and fetches exactly; tsbuild learns a step's key only when the step before is done.)
import type { Digest } from "../../common/digest.js";
import type { BlobIngest, BlobStore } from "../../image/blobs.js";
import type { CacheRecordV1 } from "./format.js";
import { commitStaged, type ImportedCache } from "./import.js";

const LOOKAHEAD = 2;

/** A fetch ahead ends with the staged layer (undefined: the store had it) or with why it failed. */
type Ahead = { staged: BlobIngest | undefined } | { failed: unknown };

export class LayerPrefetch {
  private readonly ahead = new Map<string, Promise<Ahead>>();
  private readonly cancel = new AbortController();

  constructor(private readonly store: BlobStore) {}

  /** Starts fetching the layers of the records that follow `key` in `cache`. */
  after(cache: ImportedCache, key: Digest): void {
    let parent = key;
    for (let depth = 0; depth < LOOKAHEAD && !this.cancel.signal.aborted; depth++) {
      const next = cache.onlyChild(parent);
      if (next === undefined) return;
      const id = aheadId(cache, next.key);
      if (!this.ahead.has(id)) {
        this.ahead.set(id, cache.stageLayer(next, this.store, this.cancel.signal).then(
          (staged): Ahead => ({ staged }),
          (failed: unknown): Ahead => ({ failed }),
        ));
      }
      parent = next.key;
    }
  }

  /** Puts the record's layer into the store: the one fetched ahead when there is one, else fetched now. */
  async fetch(cache: ImportedCache, rec: CacheRecordV1): Promise<void> {
    const id = aheadId(cache, rec.key);
    const ahead = this.ahead.get(id);
    this.ahead.delete(id);
    const done = ahead === undefined ? undefined : await ahead;
    if (done !== undefined && "staged" in done && done.staged !== undefined) {
      await commitStaged(done.staged, rec);
      return;
    }
    // not fetched ahead, in the store already, or that fetch failed: fetched (or found) now, and a
    // failure is reported by this fetch, as it would have been without the one ahead
    await cache.fetchLayer(rec, this.store);
  }

  /** Cancels the fetches no step took and drops what they staged (the build is over). */
  async discard(): Promise<void> {
    this.cancel.abort();
    const left = await Promise.all(this.ahead.values());
    this.ahead.clear();
    for (const done of left) if ("staged" in done && done.staged !== undefined) await done.staged.abort();
  }
}

function aheadId(cache: ImportedCache, key: Digest): string {
  return `${cache.where}\n${key}`;
}
