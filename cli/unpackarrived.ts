// An image that arrives in the store from a file (import, load) is unpacked as it arrives, as Docker
// unpacks what it imports and loads: the first build or run on it then starts at once. (Lazily, as
// before, a cold build on a loaded busybox spent 20-56 ms unpacking it first.) The snapshot is the
// image's chain, which keeps it while the image is there (cache/gc/plan.ts).
import { isDiskFull } from "../common/errors.js";
import { familiarString } from "../image/reference.js";
import type { ContentStore, ImageRecord } from "../image/store.js";

/**
 * Unpacks each record's layers (an index's: the platform image it was read for). Call holding the
 * store shared. A disk too full for the files leaves the image as it arrived, packed, with a note: the
 * load or import itself succeeded, and the first use unpacks it (or says what is short).
 */
export async function unpackArrived(store: ContentStore, records: readonly ImageRecord[], note: (line: string) => void): Promise<void> {
  const { Snapshotter } = await import("../runtime/snapshotter.js");
  const { unpackImageLayers } = await import("../runtime/layerblob.js");
  const snapshots = new Snapshotter(store.paths);
  for (const rec of records) {
    try {
      await unpackImageLayers(snapshots, store, rec.manifest.layers, rec.config.rootfs.diff_ids);
    } catch (e) {
      if (!isDiskFull(e)) throw e;
      note(`tsbuild: ${rec.refs[0] !== undefined ? familiarString(rec.refs[0]) : rec.configDigest} is stored but not unpacked (no space left on device): its first use unpacks it`);
    }
  }
}
