// Unpacking a layer into a snapshot, outside the snapshot store (containerd's diff.Applier beside its
// Snapshotter): prepare a snapshot on the parent chain, apply the layer tar into its upper dir in
// overlay format, commit it under the chain id.
import type { Digest } from "../common/digest.js";
import { applyLayerTar } from "./layer/index.js";
import type { TarInput } from "../image/tar/filesource.js";
import { chainIdOf, type Snapshotter } from "./snapshotter.js";

/** Unpacks one uncompressed layer tar on `parent` and returns the chain id; an existing chain is reused without reading the layer. */
export async function unpackLayer(
  snapshots: Snapshotter, parent: Digest | null, diffId: Digest, open: () => TarInput,
): Promise<Digest> {
  const chainId = chainIdOf(parent, diffId);
  if (await snapshots.has(chainId)) return chainId;
  const active = await snapshots.prepare(parent);
  try {
    await applyLayerTar(open(), active.upper);
  } catch (e) {
    await snapshots.remove(active);
    throw e;
  }
  if (!(await snapshots.commit(active, chainId))) await snapshots.remove(active); // a concurrent unpack of it won
  return chainId;
}
