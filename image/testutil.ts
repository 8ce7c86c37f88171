// Test helpers: a throwaway store, a tiny image.
import { mkdtemp, rm, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { storePaths } from "../common/storepaths.js";
import { ContentStore } from "./store.js";
import { MediaType, type ImageConfig } from "./config.js";
import type { ImageRecord } from "./store.js";

export async function withStore<T>(fn: (store: ContentStore, root: string) => Promise<T>): Promise<T> {
  const root = await mkdtemp(join(tmpdir(), "tsbuild-image-test-"));
  try {
    const paths = storePaths(root);
    // tsbuild's own folders beside the layout, as in a real store.
    for (const d of [paths.snapshots, paths.cache, paths.containers, paths.runcState]) await mkdir(d, { recursive: true });
    return await fn(await ContentStore.open(paths), root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** A tiny image whose single "layer" is arbitrary bytes (enough for index and tag tests). */
export async function fakeImage(store: ContentStore, seed: string, tags: string[] = []): Promise<ImageRecord> {
  const layer = await store.writeBlob(`layer ${seed}`, MediaType.ociLayer);
  const config: ImageConfig = {
    architecture: "amd64",
    os: "linux",
    config: { Cmd: ["sh"], Labels: { seed } },
    rootfs: { type: "layers", diff_ids: [layer.digest] },
    history: [{ created_by: seed }],
  };
  return store.putImage(config, [layer], tags);
}
