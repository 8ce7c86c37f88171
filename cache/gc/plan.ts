// The garbage collector's plan, as containerd's gc marks from its roots: each room says what it holds
// through its own API (the image store: the blobs and snapshot chains of the images its index lists;
// runtime: containers' images and writable layers; the cache index: each entry's snapshot and layer;
// pins: what builds in progress use, common/pins.ts), and whatever no holder reaches is unreachable:
// committed snapshots (a chain reaches its ancestors' folders), blobs and the remembered sizes of
// blobs that are gone. The plan is a value; apply.ts removes what it lists. Both run under the store's
// GC lock (collector.ts), so the store does not change between them.
import type { Digest } from "../../common/digest.js";
import { readPins, type Pins } from "../../common/pins.js";
import type { StorePaths } from "../../common/storepaths.js";
import { chainIds } from "../../image/config.js";
import type { ContentStore } from "../../image/store.js";
import { listContainers } from "../../runtime/containers.js";
import type { SnapshotInfo, Snapshotter } from "../../runtime/snapshotter.js";
import type { CacheIndex } from "../index.js";
import type { LayerSizes } from "../layersizes.js";

/** The rooms a collection asks. */
export interface GcRooms {
  paths: StorePaths;
  store: ContentStore;
  snapshotter: Snapshotter;
  cache: CacheIndex;
  sizes: LayerSizes;
}

/** What holds something: the roots of the mark. */
export interface GcRoots {
  chains: Set<Digest>;
  blobs: Set<Digest>;
}

export interface GcPlan {
  /** Committed snapshots nothing reaches, each before the ones it is built on. */
  snapshots: SnapshotInfo[];
  /** Blobs nothing reaches, with their sizes in bytes. */
  blobs: Array<{ digest: Digest; size: number }>;
  /** Remembered layer sizes (cache/layersizes.ts) of blobs that are gone or in `blobs`. */
  sizeRecords: Digest[];
  /** Pin files of processes that are gone (they hold nothing). */
  deadPins: string[];
}

/** The roots: images the index lists, containers, cache entries and the pins of live processes. */
export async function gcRoots(rooms: GcRooms, pins: Pins): Promise<GcRoots> {
  const chains = await rooms.store.imageChains();
  const blobs = await rooms.store.referencedBlobs();
  for (const c of await listContainers(rooms.paths)) {
    // a container's writable layer sits on its image's chain, even after `rmi -f` of that image
    if (c.parentChain !== null) chains.add(c.parentChain);
    for (const d of await rooms.store.manifestBlobs(c.manifestDigest)) blobs.add(d);
  }
  for (const e of await rooms.cache.list()) {
    chains.add(e.chainId);
    if (e.diffId !== undefined) blobs.add(e.diffId);
  }
  const pinned = await pinnedRoots(rooms.store, rooms.cache, pins);
  for (const c of pinned.chains) chains.add(c);
  for (const d of pinned.blobs) blobs.add(d);
  return { chains, blobs };
}

/** What live processes' pins hold (also what `system check` counts as referenced beside its own roots). */
export async function pinnedRoots(store: ContentStore, cache: CacheIndex, pins: Pins): Promise<GcRoots> {
  const chains = new Set(pins.chains);
  const blobs = new Set(pins.blobs);
  for (const key of pins.entries) {
    // a pinned entry is one a build found before a prune dropped it: its snapshot and layer stay
    const e = await cache.get(key);
    if (e === undefined) continue;
    chains.add(e.chainId);
    if (e.diffId !== undefined) blobs.add(e.diffId);
  }
  for (const m of pins.manifests) {
    for (const d of await store.manifestBlobs(m)) blobs.add(d);
    for (const c of await manifestChains(store, m)) chains.add(c);
  }
  return { chains, blobs };
}

/** What no root reaches. */
export async function planCollection(rooms: GcRooms): Promise<GcPlan> {
  const pins = await readPins(rooms.paths);
  const roots = await gcRoots(rooms, pins);
  const snapshots = await rooms.snapshotter.list();
  const byChain = new Map(snapshots.map((s) => [s.chainId, s]));
  const liveFolders = new Set<number>();
  for (const top of roots.chains) for (const id of byChain.get(top)?.lowers ?? []) liveFolders.add(id);
  // deepest first: a snapshot goes before the ones it is built (or, made by an older tsbuild, stacked) on
  const deadSnapshots = snapshots.filter((s) => !liveFolders.has(s.lowers[0] as number)).sort((a, b) => b.lowers.length - a.lowers.length);
  const stored = await rooms.store.listBlobs();
  const deadBlobs = stored.filter((b) => !roots.blobs.has(b.digest));
  const kept = new Set(stored.map((b) => b.digest));
  for (const b of deadBlobs) kept.delete(b.digest);
  const sizeRecords = (await rooms.sizes.recorded()).filter((d) => !kept.has(d));
  return { snapshots: deadSnapshots, blobs: deadBlobs, sizeRecords, deadPins: pins.dead };
}

/** The chain IDs of a pinned manifest's layers (none when it is not stored, or not an image manifest). */
async function manifestChains(store: ContentStore, manifest: Digest): Promise<Digest[]> {
  const blobs = await store.manifestBlobs(manifest);
  const config = blobs[1];
  if (config === undefined || !(await store.has(config))) return [];
  const parsed = await store.readJson<{ rootfs?: { diff_ids?: Digest[] } }>(config);
  return chainIds(parsed.rootfs?.diff_ids ?? []);
}
