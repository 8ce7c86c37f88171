// The one garbage collector that rmi, image prune, cache prune and system prune share. A command holds
// the store alone (the GC lock, exclusively: builds in progress are waited for while they hold it
// shared, and what they use between is pinned), drops what the user asked to drop through the room
// that owns it (index entries, cache entries, containers), then `collect()` plans what nothing reaches
// any more (plan.ts) and removes it (apply.ts).
import { withExclusiveLock } from "../../common/lock.js";
import type { StorePaths } from "../../common/storepaths.js";
import { ContentStore } from "../../image/store.js";
import { Snapshotter } from "../../runtime/snapshotter.js";
import { CacheIndex } from "../index.js";
import { LayerSizes } from "../layersizes.js";
import { applyCollection, type GcReport } from "./apply.js";
import { planCollection, type GcPlan, type GcRooms } from "./plan.js";

export interface Collector extends GcRooms {
  /** What nothing reaches now. */
  plan(): Promise<GcPlan>;
  /** Plans and removes what nothing reaches; says what went. */
  collect(): Promise<GcReport>;
}

/**
 * Runs fn holding the store's GC lock exclusively, with the rooms open. onWait: told once when builds
 * in progress have been waited for a second (cli/waitnotice.ts says so).
 */
export async function withCollector<T>(paths: StorePaths, fn: (gc: Collector) => Promise<T>, onWait?: (holders: number) => void): Promise<T> {
  return withExclusiveLock(paths.gcLock, async () => {
    const store = await ContentStore.open(paths);
    const rooms: GcRooms = { paths, store, snapshotter: new Snapshotter(paths), cache: new CacheIndex(paths.cache), sizes: new LayerSizes(store) };
    const plan = (): Promise<GcPlan> => planCollection(rooms);
    return fn({ ...rooms, plan, collect: async () => applyCollection(rooms, await plan()) });
  }, onWait);
}
