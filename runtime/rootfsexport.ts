// An image's root filesystem as one tree, for `build --output type=local|tar` (BuildKit's local and tar
// exporters) and what else wants the merged files: a read-only view of the image's committed snapshot
// chain, written as a tar by the layer writer (the view shows no whiteouts: every layer is applied).
import { mkdir } from "node:fs/promises";
import { PassThrough } from "node:stream";
import type { Digest } from "../common/digest.js";
import { UserError } from "../common/errors.js";
import type { StorePaths } from "../common/storepaths.js";
import { applyLayerTar, writeLayerTar } from "./layer/index.js";
import { mountSpec } from "./mountspec.js";
import { topChainId } from "../image/config.js";
import { Snapshotter } from "./snapshotter.js";

async function withView<T>(paths: StorePaths, diffIds: readonly Digest[], fn: (dir: string) => Promise<T>): Promise<T> {
  const snapshots = new Snapshotter(paths);
  const chain = topChainId(diffIds);
  if (chain !== null && !(await snapshots.has(chain))) {
    throw new UserError("the image's layers are not unpacked in the store (was it removed meanwhile?)");
  }
  const view = await mountSpec(await snapshots.view(chain), paths.tmp);
  try {
    return await fn(view.rootfs);
  } finally {
    await view.unmount();
  }
}

/** Writes the merged root filesystem as a tar stream to `out` (and ends it). */
export function exportRootfsTar(paths: StorePaths, diffIds: readonly Digest[], out: NodeJS.WritableStream): Promise<void> {
  return withView(paths, diffIds, (dir) => writeLayerTar(dir, out));
}

/** Writes the merged root filesystem into the folder `dest` (created if missing; what is there stays). */
export async function exportRootfsDir(paths: StorePaths, diffIds: readonly Digest[], dest: string): Promise<void> {
  await mkdir(dest, { recursive: true });
  await withView(paths, diffIds, async (dir) => {
    const pipe = new PassThrough();
    // A failure on either side ends the other: the writer's reaches the reader through the pipe, and
    // the reader's (reported) stops the writer, whose own error is then only a consequence.
    const writing = writeLayerTar(dir, pipe).catch((e: unknown) => void pipe.destroy(e instanceof Error ? e : new Error(String(e))));
    try {
      await applyLayerTar(pipe, dest);
    } finally {
      pipe.destroy();
      await writing;
    }
  });
}
