// The garbage collector's apply: removes what a plan (plan.ts) lists, each through the room that owns
// it, and says what went and how many bytes that freed on disk (a snapshot's files as `usage` counts
// them, a blob's file). Run under the store's GC lock right after the plan (collector.ts).
import type { Digest } from "../../common/digest.js";
import { removePinFile } from "../../common/pins.js";
import type { GcPlan, GcRooms } from "./plan.js";

export interface GcReport {
  /** Chain IDs of the removed snapshots. */
  snapshots: Digest[];
  /** Digests of the removed blobs. */
  blobs: Digest[];
  /** Bytes freed: removed snapshots' files plus removed blobs. */
  bytes: number;
}

export async function applyCollection(rooms: GcRooms, plan: GcPlan): Promise<GcReport> {
  const report: GcReport = { snapshots: [], blobs: [], bytes: 0 };
  for (const pin of plan.deadPins) await removePinFile(rooms.paths, pin);
  for (const s of plan.snapshots) {
    report.bytes += (await rooms.snapshotter.usage(s.chainId)).bytes;
    await rooms.snapshotter.removeCommitted(s.chainId);
    report.snapshots.push(s.chainId);
  }
  for (const b of plan.blobs) {
    await rooms.store.removeBlob(b.digest);
    report.blobs.push(b.digest);
    report.bytes += b.size;
  }
  for (const d of plan.sizeRecords) await rooms.sizes.forget(d);
  return report;
}
