// Blob garbage collection: after images leave the index, their manifest, config and layer blobs go
// unless something still needs them. Kept: every blob reachable from index.json, every layer a build
// cache entry refers to (`<root>/cache/keys/*.json`, field diffId: a cache hit reuses that layer
// without rebuilding it) and whatever the caller names (e.g. the images of existing containers).
import { listDirIfExists } from "../common/fsutil.js";
import { readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { isDigest, type Digest } from "../common/digest.js";
import { errnoCode } from "../common/errors.js";
import { withExclusiveLock } from "../common/lock.js";
import type { ContentStore } from "./store.js";
import type { ImageManifest } from "./config.js";

export interface GcResult {
  removed: Digest[];
  /** Bytes of the removed blobs. */
  bytes: number;
}

/** Layer digests that build cache entries refer to. A damaged entry file keeps nothing. */
export async function cacheLayerDigests(cacheDir: string): Promise<Set<Digest>> {
  const out = new Set<Digest>();
  const keysDir = join(cacheDir, "keys");
  for (const name of await listDirIfExists(keysDir)) {
    if (!name.endsWith(".json")) continue;
    let text: string;
    try {
      text = await readFile(join(keysDir, name), "utf8");
    } catch (e) {
      if (errnoCode(e) === "ENOENT") continue; // removed meanwhile
      throw e;
    }
    const diffId = parseDiffId(text);
    if (diffId !== undefined) out.add(diffId);
  }
  return out;
}

/** The entry's diffId, from its first line (cache/index.ts: a head line, then the record). */
function parseDiffId(text: string): Digest | undefined {
  const newline = text.indexOf("\n");
  let v: unknown;
  try {
    v = JSON.parse(newline < 0 ? text : text.slice(0, newline));
  } catch (e) {
    if (e instanceof SyntaxError) return undefined; // a half-written or damaged entry
    throw e;
  }
  if (typeof v !== "object" || v === null) return undefined;
  const d = (v as { diffId?: unknown }).diffId;
  return typeof d === "string" && isDigest(d) ? d : undefined;
}

/** The manifest, config and layer blobs of one manifest (for keeping a removed image's content). */
export async function blobsOfManifest(store: ContentStore, manifest: Digest): Promise<Digest[]> {
  if (!(await store.has(manifest))) return [];
  const m = await store.readJson<ImageManifest>(manifest);
  return [manifest, m.config.digest, ...m.layers.map((l) => l.digest)];
}

/**
 * Removes every blob nothing needs, under the store's GC lock. `keep` adds blobs the caller knows
 * are in use. Temporary files of writers in progress live in tmp/, never in blobs/.
 */
export async function collectGarbage(store: ContentStore, keep: Iterable<Digest> = [], onWait?: (holders: number) => void): Promise<GcResult> {
  const paths = store.paths;
  return withExclusiveLock(paths.gcLock, async () => {
    const live = await store.referencedBlobs();
    for (const d of await cacheLayerDigests(paths.cache)) live.add(d);
    for (const d of keep) live.add(d);
    const result: GcResult = { removed: [], bytes: 0 };
    for (const name of await listDirIfExists(paths.blobs)) {
      const digest = `sha256:${name}`;
      if (!isDigest(digest) || live.has(digest)) continue;
      const file = join(paths.blobs, name);
      let size: number;
      try {
        size = (await stat(file)).size;
      } catch (e) {
        if (errnoCode(e) === "ENOENT") continue;
        throw e;
      }
      await rm(file, { force: true });
      await rm(join(paths.root, "layersizes", name), { force: true }); // the CLI's memo of its content size
      result.removed.push(digest);
      result.bytes += size;
    }
    return result;
  }, onWait);
}

