// `tsbuild system prune [-a] [-f]`, as `docker system prune`: stopped containers, dangling images (with
// -a: every image no container uses), build cache not used by an image (with -a: all of it), then what
// nothing needs any more, in one hold of the store (the one collector, cache/gc/). The total is the
// bytes freed on disk: removed containers' writable layers, snapshots and blobs.
import { createInterface } from "node:readline/promises";
import { UserError } from "../../common/errors.js";
import { storePaths } from "../../common/storepaths.js";
import { withCollector } from "../../cache/gc/collector.js";
import { isRunning, listContainers, removeContainer, writableLayer } from "../../runtime/containers.js";
import { treeSize } from "./df.js";
import { pruneImages } from "./prune.js";
import { pruneCacheEntries } from "./cache.js";
import { dockerSize } from "./sizes.js";
import { waitingForBuilds } from "../waitnotice.js";

const WARNING = (all: boolean): string => `WARNING! This will remove:
  - all stopped containers
  - ${all ? "all images without at least one container associated to them" : "all dangling images"}
  - ${all ? "all build cache" : "unused build cache"}
`;

export async function runSystemPrune(root: string, opts: { all?: boolean; force?: boolean }): Promise<void> {
  const all = opts.all === true;
  if (!opts.force) await confirm(WARNING(all));
  const out = await withCollector(storePaths(root), async (gc) => {
    const containers: string[] = [];
    let bytes = 0;
    for (const c of await listContainers(gc.paths)) {
      if (isRunning(c)) continue;
      bytes += await treeSize(writableLayer(gc.paths, c).upper);
      await removeContainer(gc.paths, c);
      containers.push(c.id);
    }
    const images = await pruneImages(gc, all);
    const cache = await pruneCacheEntries(gc, { all });
    return { containers, images: images.lines, entries: cache.removedEntries, bytes: bytes + images.diskBytes + cache.reclaimedBytes };
  }, waitingForBuilds("system prune"));
  if (out.containers.length > 0) process.stdout.write(`Deleted Containers:\n${out.containers.join("\n")}\n\n`);
  if (out.images.length > 0) process.stdout.write(`Deleted Images:\n${out.images.join("\n")}\n\n`);
  if (out.entries.length > 0) process.stdout.write(`Deleted build cache objects:\n${out.entries.map((e) => e.key.slice("sha256:".length, "sha256:".length + 25)).join("\n")}\n\n`);
  process.stdout.write(`Total reclaimed space: ${dockerSize(out.bytes)}\n`);
}

/** Docker's prompt; without a terminal to ask on, -f is required. */
async function confirm(warning: string): Promise<void> {
  if (!process.stdin.isTTY) {
    throw new UserError("system prune asks for confirmation, but standard input is not a terminal: use -f to prune without asking");
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await rl.question(`${warning}\nAre you sure you want to continue? [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) throw new UserError("system prune cancelled");
  } finally {
    rl.close();
  }
}
