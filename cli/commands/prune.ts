// `tsbuild image prune [-a] [-f]`: removes dangling images (with -a: every image no container uses),
// then the blobs nothing needs any more. Asks first on a terminal, as Docker does. The space reclaimed
// is the content size of the layers whose blobs went, as Docker counts it.
import { createInterface } from "node:readline/promises";
import { UserError } from "../../common/errors.js";
import { storePaths } from "../../common/storepaths.js";
import { updateIndex, refNameOf } from "../../image/layoutindex.js";
import { parseReference } from "../../image/reference.js";
import { ContentStore } from "../../image/store.js";
import { listContainers } from "../../runtime/containers.js";
import { collectUnused, freedLayerLines } from "./rmi.js";
import { LayerSizes } from "./layersize.js";
import { dockerSize } from "./sizes.js";

const WARN_DANGLING = "WARNING! This will remove all dangling images.";
const WARN_ALL = "WARNING! This will remove all images without at least one container associated to them.";

export async function runImagePrune(root: string, opts: { all?: boolean; force?: boolean }): Promise<void> {
  if (!opts.force) await confirm(opts.all ? WARN_ALL : WARN_DANGLING);
  const paths = storePaths(root);
  const store = await ContentStore.open(paths);
  const used = new Set((await listContainers(paths)).map((c) => c.imageId));
  const victims = (await store.listImages()).filter((r) => !used.has(r.configDigest) && (opts.all || r.refs.length === 0));
  // Content sizes (as images and system df show them), measured while the blobs are still there.
  const sizes = new LayerSizes(store);
  for (const r of victims) await sizes.ofImage(r);
  const manifests = new Set(victims.map((r) => r.manifestDigest));
  const untagged = await updateIndex(paths, (m) => ({
    manifests: m.filter((d) => !manifests.has(d.digest)),
    result: m.filter((d) => manifests.has(d.digest)).flatMap((d) => refNameOf(d) ?? []),
  }));
  const gc = await collectUnused(store, paths);
  const ids = [...new Set(victims.map((r) => r.configDigest))];
  if (ids.length > 0) {
    const layers = [...new Set(victims.flatMap((r) => freedLayerLines(r, gc, "deleted: ")))];
    const lines = [...untagged.map((r) => `untagged: ${parseReference(r).familiar}`), ...ids.map((id) => `deleted: ${id}`), ...layers];
    process.stdout.write(`Deleted Images:\n${lines.join("\n")}\n\n`);
  }
  let reclaimed = 0;
  for (const d of new Set(victims.flatMap((r) => r.manifest.layers.map((l) => l.digest)))) {
    if (gc.removed.includes(d)) reclaimed += await sizes.of(d);
  }
  process.stdout.write(`Total reclaimed space: ${dockerSize(reclaimed)}\n`);
}

/** Docker's prompt; without a terminal to ask on, -f is required. */
async function confirm(warning: string): Promise<void> {
  if (!process.stdin.isTTY) {
    throw new UserError("image prune asks for confirmation, but standard input is not a terminal: use -f to prune without asking");
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await rl.question(`${warning}\nAre you sure you want to continue? [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) throw new UserError("image prune cancelled");
  } finally {
    rl.close();
  }
}
