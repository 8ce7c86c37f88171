import { readFile } from "node:fs/promises";
import { RuntimeFailure, errnoCode, errorMessage } from "../common/errors.js";
import { MNT_DETACH, native } from "../common/native.js";

/** One line of /proc/self/mountinfo, the parts tsbuild needs. */
export interface MountInfo {
  mountPoint: string;
  fsType: string;
  source: string;
}

// mountinfo escapes space, tab, newline and backslash as \ooo octal.
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

export async function readMountInfo(): Promise<MountInfo[]> {
  const text = await readFile("/proc/self/mountinfo", "utf8");
  const mounts: MountInfo[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const [left, right] = line.split(" - ");
    const fields = (left ?? "").split(" ");
    const after = (right ?? "").split(" ");
    mounts.push({
      mountPoint: unescapeMountPath(fields[4] ?? ""),
      fsType: after[0] ?? "",
      source: unescapeMountPath(after[1] ?? ""),
    });
  }
  return mounts;
}

/** Mount points at or under `dir`, deepest first (the order to unmount them in). */
export async function mountsUnder(dir: string): Promise<string[]> {
  const prefix = dir.endsWith("/") ? dir : dir + "/";
  const points = (await readMountInfo())
    .map((m) => m.mountPoint)
    .filter((p) => p === dir || p.startsWith(prefix));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

export interface OverlayOptions {
  /** Lower dirs, top-most first; relative to cwd if cwd is given. */
  lowers: string[];
  upper?: string;
  work?: string;
  target: string;
  /** Folder the mount command runs in, so relative lower paths keep the option string short. */
  cwd?: string;
  readOnly?: boolean;
  /**
   * No sync of the upper dir's filesystem at unmount (overlayfs `volatile`, Linux 5.10+): that sync
   * flushed every dirty page of the whole filesystem, hundreds of ms after a large COPY or RUN. Like
   * the rest of the store (common/fsutil.ts), a snapshot then survives kills, not power loss. The
   * work dir must not be mounted again afterwards (committing removes it). Ignored by older kernels.
   */
  volatile?: boolean;
}

/** Whether the kernel took `volatile` (undefined until the first try). */
let volatileWorks: boolean | undefined;

// The kernel copies mount options into one page; beyond it the mount fails with a confusing error.
const MAX_MOUNT_DATA = 4095;

export async function mountOverlay(o: OverlayOptions): Promise<void> {
  const opts = [`lowerdir=${o.lowers.join(":")}`];
  if (o.upper !== undefined && o.work !== undefined) opts.push(`upperdir=${o.upper}`, `workdir=${o.work}`);
  // index=off: the same lower may be mounted under many uppers at once (concurrent builds).
  opts.push("index=off");
  if (o.readOnly) opts.push("ro");
  const data = opts.join(",");
  if (data.length + ",volatile".length > MAX_MOUNT_DATA) {
    throw new RuntimeFailure(`overlay mount options too long (${data.length} bytes, ${o.lowers.length} layers)`);
  }
  // mount(2) from the addon: spawning util-linux's mount cost more than the mount itself (common/native.ts)
  const mount = async (options: string): Promise<void> => {
    try {
      native().mount("overlay", o.target, "overlay", 0, options, o.cwd ?? null);
    } catch (e) {
      if (errnoCode(e) === undefined) throw e;
      throw new RuntimeFailure(`mount overlay on ${o.target} failed: ${errorMessage(e)} (options ${options})`, { cause: e });
    }
  };
  if (o.volatile && o.upper !== undefined && volatileWorks !== false) {
    try {
      await mount(`${data},volatile`);
      volatileWorks = true;
      return;
    } catch (e) {
      if (volatileWorks === true || !(e instanceof RuntimeFailure)) throw e;
      volatileWorks = false; // an older kernel: mounted without it below (a real problem fails there too)
    }
  }
  await mount(data);
}

/** Unmounts target; if it stays busy after a few tries, detaches it lazily so nothing is left behind. */
export async function unmount(target: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await native().umount(target, 0);
      return;
    } catch (e) {
      const code = errnoCode(e);
      // EINVAL: not a mount point (already unmounted); ENOENT: the folder is gone as well.
      if (code === "EINVAL" || code === "ENOENT") return;
      if (code !== "EBUSY") throw new RuntimeFailure(`umount ${target} failed: ${errorMessage(e)}`, { cause: e });
    }
    await new Promise((res) => setTimeout(res, 20 * (attempt + 1)));
  }
  try {
    await native().umount(target, MNT_DETACH);
  } catch (e) {
    throw new RuntimeFailure(`umount -l ${target} failed: ${errorMessage(e)}`, { cause: e });
  }
}
