// A container's files as `docker diff` and `docker export` show them: the changes its writable layer
// holds against its image (A added, C changed, D deleted: the seeds' "image + writable layer" made
// visible), and its whole root filesystem as one tar.
import { lstat, readdir } from "node:fs/promises";
import type { Stats } from "node:fs";
import { join } from "node:path";
import { UserError } from "../common/errors.js";
import { lstatOrUndefined } from "../common/fsutil.js";
import { native } from "../common/native.js";
import type { StorePaths } from "../common/storepaths.js";
import { isRunning, writableLayer, type ContainerRecord } from "./containers.js";
import { writeLayerTar } from "./layer/index.js";
import { mountSpec, type MountSpec } from "./mountspec.js";
import { Snapshotter } from "./snapshotter.js";

export interface Change { kind: "A" | "C" | "D"; path: string }

const RUNTIME_MOUNT_POINTS = new Set(["/dev", "/proc", "/sys"]);

/** An overlayfs whiteout: a 0:0 character device in the upper dir. */
function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

/** Whether overlayfs marked a folder of the upper dir opaque (it replaces the folder below). */
function isOpaque(dir: string): boolean {
  return native().getXattr(dir, "trusted.overlay.opaque")?.toString() === "y";
}

/** The writable layer's changes against the image, sorted by path as Docker lists them. */
export async function containerChanges(paths: StorePaths, rec: ContainerRecord): Promise<Change[]> {
  const layer = writableLayer(paths, rec);
  const snap = new Snapshotter(paths);
  const image = await mountSpec(await snap.view(rec.parentChain), paths.tmp);
  const out: Change[] = [];
  try {
    // Resolves to whether anything under `rel` was reported: a folder overlayfs copied up only because
    // something under it was touched and put back (runc's /etc/hosts stub) is no change, as in Docker,
    // whose changes list a folder when its mode or owner differ or something under it changed.
    const walk = async (rel: string): Promise<boolean> => {
      let any = false;
      for (const name of (await readdir(join(layer.upper, rel))).sort()) {
        const path = `${rel}/${name}`;
        const st = await lstat(join(layer.upper, path));
        const before = await lstatOrUndefined(join(image.rootfs, path));
        if (isWhiteout(st)) {
          if (before !== undefined) {
            out.push({ kind: "D", path });
            any = true;
          }
          continue;
        }
        // runc's mount points (/dev, /proc, /sys and the stubs under them, made for the container's own
        // mounts where the image lacks them): Docker's init layer, not a change of the container's
        if (before === undefined && RUNTIME_MOUNT_POINTS.has(path)) continue;
        const inside = st.isDirectory() ? await walk(path) : false;
        const sameFolder = before !== undefined && st.isDirectory() && before.isDirectory() && !inside &&
          st.mode === before.mode && st.uid === before.uid && st.gid === before.gid && !isOpaque(join(layer.upper, path));
        if (sameFolder) continue;
        out.push({ kind: before === undefined ? "A" : "C", path });
        any = true;
      }
      return any;
    };
    await walk("");
  } finally {
    await image.unmount();
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * The container's root filesystem, read only: its writable layer as the top lower of the image's view.
 * (Mounting the writable layer itself again would need its work dir, which the container's volatile
 * mount left unusable.)
 */
async function readOnlyView(paths: StorePaths, rec: ContainerRecord): Promise<MountSpec> {
  const layer = writableLayer(paths, rec);
  const spec = await new Snapshotter(paths).mounts({ ...layer });
  if (spec.type !== "overlay") throw new Error(`unexpected mount of a writable layer: ${spec.type}`);
  const lowers = [spec.options.upper as string, ...spec.options.lowers.filter((l) => l !== "empty")];
  if (lowers.length === 1) return { type: "dir", path: layer.upper };
  return { type: "overlay", options: { lowers, ...(spec.options.cwd ? { cwd: spec.options.cwd } : {}), readOnly: true } };
}

/** Writes the container's root filesystem (image + writable layer) as a tar to `out`, and ends it. */
export async function exportContainer(paths: StorePaths, rec: ContainerRecord, out: NodeJS.WritableStream): Promise<void> {
  if (isRunning(rec)) throw new UserError(`container ${rec.name} is running: export it once it has stopped`);
  const mounted = await mountSpec(await readOnlyView(paths, rec), paths.tmp);
  try {
    await writeLayerTar(mounted.rootfs, out);
  } finally {
    await mounted.unmount();
  }
}
