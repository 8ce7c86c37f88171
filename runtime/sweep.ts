import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { readFile, readlink, rm } from "node:fs/promises";
import { listDirIfExists } from "../common/fsutil.js";
import { join, relative, sep } from "node:path";
import { digestHex, type Digest } from "../common/digest.js";
import { errnoCode } from "../common/errors.js";
import type { StorePaths } from "../common/storepaths.js";
import { deleteContainer } from "./container.js";
import { mountsUnder, unmount } from "./mounts.js";
import { deadOwned, ownerAlive, ownerOfName, parseOwnerToken, type Owner } from "../common/owner.js";
import { deadOwnerText, takeOver } from "../common/lock.js";
import { deadPinFiles, pinsDir, removePinFile } from "../common/pins.js";
import { activeMarkersDir, removeSnapshotDir } from "./snapshotfiles.js";

// Start-up sweep, run by every command that opens the store: what a killed process left behind (runc
// containers, overlay mounts, bundles, scratch files and folders, active snapshots, shared-lock
// markers, pins) is cleaned up. Ownership is read from the owner token (pid and start time, common/owner.ts)
// in each name or in an active snapshot's `owner` file; anything whose owner is alive, or whose owner
// cannot be told, is left alone. Order matters: containers first (they keep mounts busy), then mounts,
// then folders, and a folder is only removed when nothing is mounted under it (rm would otherwise reach
// into the mount).

// An older tsbuild named a load's folder `load-XXXXXX` (mkdtemp), without its owner: one an hour old is
// taken to be a killed load's (a load of that tsbuild still running after an hour is not expected).
const LEGACY_LOAD = /^load-[A-Za-z0-9]{6}$/;
const LEGACY_AGE_MS = 3_600_000;

function olderThan(path: string, ms: number): boolean {
  const st = statSync(path, { throwIfNoEntry: false });
  return st !== undefined && Date.now() - st.mtimeMs > ms;
}

export interface SweepReport {
  containers: string[];
  unmounted: string[];
  removed: string[];
}

/** The sweep, unless the store does not exist (a command that only reads finds nothing to sweep). */
export async function sweepIfStore(paths: StorePaths): Promise<SweepReport | undefined> {
  return existsSync(paths.tmp) ? sweepStale(paths) : undefined;
}

export async function sweepStale(paths: StorePaths): Promise<SweepReport> {
  const report: SweepReport = { containers: [], unmounted: [], removed: [] };
  for (const id of await runcContainerIds(paths)) {
    if (deadOwned(id, join(paths.runcState, id))) { // the path: an older name (pid only) is judged by its age
      await deleteContainer(paths, id);
      report.containers.push(id);
    }
  }
  for (const mountPoint of await mountsUnder(paths.root)) {
    const owner = ownerOfPath(paths.root, mountPoint);
    if (owner !== undefined && !ownerAlive(owner)) {
      await unmount(mountPoint);
      report.unmounted.push(mountPoint);
    }
  }
  for (const name of await listDirIfExists(paths.tmp)) {
    const path = join(paths.tmp, name);
    const left = deadOwned(name, path) || (LEGACY_LOAD.test(name) && olderThan(path, LEGACY_AGE_MS));
    if (left && (await removeIfUnmounted(path))) report.removed.push(path);
  }
  await sweepLockMarkers(paths, report);
  for (const name of await deadPinFiles(paths)) { // pins of dead processes hold nothing (common/pins.ts)
    await removePinFile(paths, name);
    report.removed.push(join(pinsDir(paths), name));
  }
  // Active snapshots: those the markers name (snapshotter.ts activeMarkersDir). A store without the
  // markers folder (made by an older tsbuild) has every snapshot folder looked at, once.
  const markersDir = activeMarkersDir(paths.snapshots);
  if (existsSync(markersDir)) {
    for (const marker of await listDirIfExists(markersDir)) {
      const m = /^(\d+)-(\d+(?:\.\d+)?)$/.exec(marker);
      const owner = m === null ? undefined : parseOwnerToken(m[2] as string);
      if (m === null || owner === undefined) continue;
      const gone = await sweepSnapshot(paths, m[1] as string, report);
      // the folder is committed, removed or not its marker's (a build killed before its rename)
      if (gone && !ownerAlive(owner, join(markersDir, marker))) await rm(join(markersDir, marker), { force: true });
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
  if (ownerAlive(owner, join(dir, "owner"))) return false;
  if (await isPublished(paths, id)) {
    // Died between publishing the chain link and dropping the owner file: it is committed.
    await rm(join(dir, "owner"), { force: true });
    return true;
  }
  if ((await mountsUnder(dir)).length > 0) return false;
  // renamed away first: a concurrent build may take the id the moment the folder is gone
  await removeSnapshotDir(dir, paths.tmp);
  report.removed.push(dir);
  return true;
}

/**
 * Locks of dead owners (common/lock.ts): shared-lock markers (`locks/<name>.readers/<owner>-<n>`) and
 * lock files, which a taker would skip or take over anyway, but which are otherwise never removed; and
 * a dead lock a taker had renamed aside (`<name>.stale-<owner>-<hex>`) when it was killed.
 */
async function sweepLockMarkers(paths: StorePaths, report: SweepReport): Promise<void> {
  for (const name of await listDirIfExists(paths.locks)) {
    const path = join(paths.locks, name);
    if (name.includes(".stale-")) {
      if (deadOwned(name)) {
        await rm(path, { force: true });
        report.removed.push(path);
      }
      continue;
    }
    if (!name.endsWith(".readers")) {
      const dead = await deadOwnerText(path);
      if (dead !== undefined) {
        takeOver(path, dead); // renamed aside and checked: never another taker's fresh lock
        report.removed.push(path);
      }
      continue;
    }
    for (const marker of await listDirIfExists(path)) {
      const owner = parseOwnerToken(marker.replace(/-\d+$/, ""));
      const file = join(path, marker);
      if (owner !== undefined && !ownerAlive(owner, file)) {
        await rm(file, { force: true });
        report.removed.push(file);
      }
    }
  }
}

/** The owner of the first scratch-named component of `path` below root, if any. */
function ownerOfPath(root: string, path: string): Owner | undefined {
  for (const part of relative(root, path).split(sep)) {
    const owner = ownerOfName(part);
    if (owner !== undefined) return owner;
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

function readOwner(dir: string): Owner | undefined {
  if (!existsSync(join(dir, "owner"))) return undefined; // committed: no error object to make and throw
  try {
    return parseOwnerToken(readFileSync(join(dir, "owner"), "utf8"));
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
