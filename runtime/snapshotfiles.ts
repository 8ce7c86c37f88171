// The files a snapshot folder has besides its diff, and how they are cleared away quickly: the overlay
// work dir, the mount point of a view, the markers listing active snapshots (snapshotter.ts).
import { existsSync, mkdirSync, renameSync, rmdirSync, rmSync, unlinkSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode } from "../common/errors.js";
import { ownedName, ownerToken } from "../common/owner.js";

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
 * Removes a snapshot folder by renaming it into the scratch folder first (under a name this process
 * owns, so the sweep finishes the job if it is killed), then deleting it there. Deleted in place, the
 * folder would be empty for a moment before its rmdir, and a concurrent prepare's rename(2) onto that
 * id succeeds on an empty folder: the rmdir then failed with ENOTEMPTY, on the other build's snapshot.
 */
export async function removeSnapshotDir(dir: string, tmp: string): Promise<void> {
  const away = join(tmp, ownedName("rm"));
  try {
    renameSync(dir, away);
  } catch (e) {
    if (errnoCode(e) !== "ENOENT") throw e;
    if (!existsSync(dir)) return;
    mkdirSync(tmp, { recursive: true }); // a store whose scratch folder is not made yet
    renameSync(dir, away);
  }
  await rm(away, { recursive: true, force: true });
}

/**
 * Active snapshots are listed in `snapshots/active/` as `<id>-<pid>.<start>` marker files (owner token:
 * common/owner.ts), so that the start-up
 * sweep (sweep.ts) looks at those instead of every snapshot folder of the store (thousands, after a
 * while). A marker is made before its folder can exist and removed once the folder is committed or gone.
 */
export function activeMarkersDir(snapshotsDir: string): string {
  return join(snapshotsDir, "active");
}

export function markerOf(snapshotsDir: string, id: number): string {
  return join(activeMarkersDir(snapshotsDir), `${id}-${ownerToken()}`);
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
