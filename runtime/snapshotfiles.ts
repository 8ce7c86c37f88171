// The files a snapshot folder has besides its diff, and how they are cleared away quickly: the overlay
// work dir, the mount point of a view, the markers listing active snapshots (snapshotter.ts).
import { rmdirSync, rmSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { errnoCode } from "../common/errors.js";

/**
 * Removes an overlay work dir after its unmount: it holds only what overlay made there (work/, and with
 * `volatile` work/incompat/volatile/dirty), taken away one by one (Node's recursive rm walks and stats,
 * ten times slower). Anything else in it falls back to the recursive rm.
 */
export function removeWorkDir(work: string): void {
  try {
    unlinkIfExists(join(work, "work/incompat/volatile/dirty"));
    for (const sub of ["work/incompat/volatile", "work/incompat", "work", ""]) rmdirIfExists(join(work, sub));
  } catch (e) {
    const code = errnoCode(e);
    if (code !== "ENOTEMPTY" && code !== "EEXIST" && code !== "EISDIR") throw e;
    rmSync(work, { recursive: true, force: true }); // something unexpected in it
  }
}

export function unlinkIfExists(path: string): void {
  try {
    unlinkSync(path);
  } catch (e) {
    if (errnoCode(e) !== "ENOENT") throw e;
  }
}

function rmdirIfExists(path: string): void {
  try {
    rmdirSync(path);
  } catch (e) {
    if (errnoCode(e) !== "ENOENT") throw e;
  }
}

/**
 * Active snapshots are listed in `snapshots/active/` as `<id>-<pid>` marker files, so that the start-up
 * sweep (sweep.ts) looks at those instead of every snapshot folder of the store (thousands, after a
 * while). A marker is made before its folder can exist and removed once the folder is committed or gone.
 */
export function activeMarkersDir(snapshotsDir: string): string {
  return join(snapshotsDir, "active");
}

export function markerOf(snapshotsDir: string, id: number): string {
  return join(activeMarkersDir(snapshotsDir), `${id}-${process.pid}`);
}

/** Removes an unmounted mount point: an empty folder (a recursive rm costs several thread-pool round trips). */
export function removeMountPoint(dir: string): void {
  try {
    rmdirSync(dir);
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ENOENT") return;
    if (code !== "ENOTEMPTY" && code !== "EEXIST") throw e;
    rmSync(dir, { recursive: true, force: true }); // something was left in the folder itself
  }
}
