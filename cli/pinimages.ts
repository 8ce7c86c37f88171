// What a command reads from the store for a while (save, push) is pinned first (common/pins.ts): each
// name resolved and its manifest (and index) pinned in one shared hold of the store, so that an rmi or
// prune meanwhile leaves the blobs being read; a name removed before the pin is the command's usual
// one-line "No such image".
import { withLease } from "../common/pins.js";
import type { PlatformSpec } from "../image/registry/platform.js";
import type { ContentStore } from "../image/store.js";

export async function withImagesPinned<T>(store: ContentStore, names: readonly string[], platform: PlatformSpec | undefined, fn: () => Promise<T>): Promise<T> {
  return withLease(store.paths, async (lease) => {
    await lease.hold(async () => {
      for (const name of names) {
        const rec = await store.resolveImage(name, platform);
        await lease.pin("manifest", [...(rec.index !== undefined ? [rec.index.descriptor.digest] : []), rec.manifestDigest]);
      }
    });
    return fn();
  });
}
