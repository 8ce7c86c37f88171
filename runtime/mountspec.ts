// What to mount for a snapshot, as containerd's snapshotters answer with mount descriptions and leave
// the mounting to the caller: the snapshotter (snapshotter.ts) says what, mountSpec() mounts it.
import { mkdirSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { mountOverlay, unmount, type OverlayOptions } from "./mounts.js";
import { scratchName } from "./owner.js";
import { removeMountPoint } from "./snapshotfiles.js";

export type MountSpec =
  /** One dir used as it is, no mount (a view of a single layer: read it, never write to it). */
  | { type: "dir"; path: string }
  /** An empty read-only root (the view of nothing: `FROM scratch`). */
  | { type: "empty" }
  /** An overlay of dirs; with an upper and work dir it is writable. */
  | { type: "overlay"; options: Omit<OverlayOptions, "target"> };

export interface Mounted {
  rootfs: string;
  /** Unmounts (once) and removes the mount point this call made. */
  unmount(): Promise<void>;
}

/** Mounts `spec` at a fresh mount point in `scratchDir` (the store's tmp folder); a dir is given as it is. */
export async function mountSpec(spec: MountSpec, scratchDir: string): Promise<Mounted> {
  if (spec.type === "dir") return { rootfs: spec.path, unmount: async () => {} };
  const at = join(scratchDir, scratchName(spec.type === "empty" ? "empty" : "mnt"));
  mkdirSync(at, { recursive: true });
  if (spec.type === "empty") return { rootfs: at, unmount: () => rm(at, { recursive: true, force: true }) };
  try {
    await mountOverlay({ ...spec.options, target: at });
  } catch (e) {
    await rm(at, { recursive: true, force: true });
    throw e;
  }
  let done = false;
  return {
    rootfs: at,
    unmount: async () => {
      if (done) return;
      await unmount(at);
      done = true;
      removeMountPoint(at);
    },
  };
}
