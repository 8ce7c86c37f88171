import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { readFile, readlink, rm } from "node:fs/promises";
import { listDirIfExists } from "../common/fsutil.js";
import { join, relative, sep } from "node:path";
import { digestHex, type Digest } from "../common/digest.js";
import { errnoCode } from "../common/errors.js";
import type { StorePaths } from "../common/storepaths.js";
import { deleteContainer } from "./container.js";
import { mountsUnder, unmount } from "./mounts.js";
import { ownerPidOf, pidAlive } from "./owner.js";
import { activeMarkersDir } from "./snapshotfiles.js";

// Start-up sweep: what a killed build left behind (runc containers, overlay mounts, bundles, scratch
// folders, active snapshots) is cleaned up. Ownership is read from the pid in each name (owner.ts) or
// an active snapshot's `owner` file; anything whose owner is alive, or whose owner cannot be told, is
// left alone. Order matters: containers first (they keep mounts busy), then mounts, then folders, and
// a folder is only removed when nothing is mounted under it (rm would otherwise reach into the mount).

export interface SweepReport {
  containers: string[];
  unmounted: string[];
  removed: string[];
}

export async function sweepStale(paths: StorePaths): Promise<SweepReport> {
  const report: SweepReport = { containers: [], unmounted: [], removed: [] };
  for (const id of await runcContainerIds(paths)) {
    if (isDeadOwned(id)) {
      await deleteContainer(paths, id);
      report.containers.push(id);
    }
  }
  for (const mountPoint of await mountsUnder(paths.root)) {
    const pid = ownerOfPath(paths.root, mountPoint);
    if (pid !== undefined && !pidAlive(pid)) {
      await unmount(mountPoint);
      report.unmounted.push(mountPoint);
    }
  }
  for (const name of await listDirIfExists(paths.tmp)) {
    if (isDeadOwned(name) && (await removeIfUnmounted(join(paths.tmp, name)))) report.removed.push(join(paths.tmp, name));
  }
  // Active snapshots: those the markers name (snapshotter.ts activeMarkersDir). A store without the
  // markers folder (made by an older tsbuild) has every snapshot folder looked at, once.
  const markersDir = activeMarkersDir(paths.snapshots);
  if (existsSync(markersDir)) {
    for (const marker of await listDirIfExists(markersDir)) {
      const m = /^(\d+)-(\d+)$/.exec(marker);
      if (m === null) continue;
      const [, id, pid] = m as unknown as [string, string, string];
      const gone = await sweepSnapshot(paths, id, report);
      // the folder is committed, removed or not its marker's (a build killed before its rename)
      if (gone && !pidAlive(Number(pid))) await rm(join(markersDir, marker), { force: true });
    }
  } else {
    for (const name of await listDirIfExists(paths.snapshots)) {
      if (/^\d+$/.test(name)) await sweepSnapshot(paths, name, report);
    }
    if (existsSync(paths.snapshots)) mkdirSync(markersDir, { recursive: true });
  }
  return report;
}

/**
 * Removes snapshot folder `id` if its owner died before committing it (or drops the owner file if it
 * had published it). True when nothing live owns the folder any more.
 */
async function sweepSnapshot(paths: StorePaths, id: string, report: SweepReport): Promise<boolean> {
  const dir = join(paths.snapshots, id);
  const owner = readOwner(dir);
  if (owner === undefined) return true;
  if (pidAlive(owner)) return false;
  if (await isPublished(paths, id)) {
    // Died between publishing the chain link and dropping the owner file: it is committed.
    await rm(join(dir, "owner"), { force: true });
    return true;
  }
  if (!(await removeIfUnmounted(dir))) return false;
  report.removed.push(dir);
  return true;
}

function isDeadOwned(name: string): boolean {
  const pid = ownerPidOf(name);
  return pid !== undefined && !pidAlive(pid);
}

/** The owner pid of the first scratch-named component of `path` below root, if any. */
function ownerOfPath(root: string, path: string): number | undefined {
  for (const part of relative(root, path).split(sep)) {
    const pid = ownerPidOf(part);
    if (pid !== undefined) return pid;
  }
  return undefined;
}

/** runc keeps one folder per container in its state dir: reading it avoids spawning `runc list`. */
async function runcContainerIds(paths: StorePaths): Promise<string[]> {
  return listDirIfExists(paths.runcState);
}

async function removeIfUnmounted(dir: string): Promise<boolean> {
  if ((await mountsUnder(dir)).length > 0) return false;
  await rm(dir, { recursive: true, force: true });
  return true;
}

function readOwner(dir: string): number | undefined {
  if (!existsSync(join(dir, "owner"))) return undefined; // committed: no error object to make and throw
  try {
    const pid = Number.parseInt(readFileSync(join(dir, "owner"), "utf8"), 10);
    return Number.isFinite(pid) && pid > 0 ? pid : undefined;
  } catch (e) {
    if (errnoCode(e) === "ENOENT" || errnoCode(e) === "ENOTDIR") return undefined;
    throw e;
  }
}

async function isPublished(paths: StorePaths, id: string): Promise<boolean> {
  let chainId: Digest;
  try {
    chainId = (JSON.parse(await readFile(join(paths.snapshots, id, "meta.json"), "utf8")) as { chainId: Digest }).chainId;
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return false;
    throw e;
  }
  try {
    return (await readlink(join(paths.snapshots, "chains", digestHex(chainId)))) === `../${id}`;
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return false;
    throw e;
  }
}
