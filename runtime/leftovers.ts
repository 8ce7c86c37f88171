// What dead processes left in the store, for `system check`: scratch files and folders, mounts, runc
// containers, lock files and shared-lock markers, names made beside their targets. The sweep
// (sweep.ts) removes most of these before every command; the check names each one.
import { statSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join, relative } from "node:path";
import { listDirIfExists } from "../common/fsutil.js";
import { deadOwnerText, takeOver } from "../common/lock.js";
import { deadPinFiles, pinsDir, removePinFile } from "../common/pins.js";
import { deadOwned, ownerAlive, ownerOfName, parseOwnerToken } from "../common/owner.js";
import type { CheckResult, StoreProblem } from "../common/storecheck.js";
import type { StorePaths } from "../common/storepaths.js";
import { deleteContainer } from "./container.js";
import { mountsUnder, unmount } from "./mounts.js";

/** A scratch name without an owner (an older tsbuild's) counts as left over after this long. */
const UNOWNED_AGE_MS = 3_600_000;

/**
 * What dead processes left and the sweep removes: scratch files and folders, mounts, runc containers,
 * lock files and shared-lock markers, and temporary files of atomic writes beside their targets.
 */
export async function checkLeftovers(paths: StorePaths): Promise<CheckResult> {
  const problems: StoreProblem[] = [];
  const rel = (p: string): string => relative(paths.root, p);
  for (const id of await listDirIfExists(paths.runcState)) {
    if (deadOwned(id, join(paths.runcState, id))) problems.push({ line: `runc container ${id}: of a dead process`, repair: async () => {
      await deleteContainer(paths, id);
      return "deleted";
    } });
  }
  const mounts = await mountsUnder(paths.root);
  for (const mountPoint of mounts) {
    const owner = relative(paths.root, mountPoint).split("/").map(ownerOfName).find((o) => o !== undefined);
    if (owner === undefined) problems.push({ line: `mount ${rel(mountPoint)}: no owner in its path` });
    else if (!ownerAlive(owner)) problems.push({ line: `mount ${rel(mountPoint)}: of a dead process`, repair: async () => {
      await unmount(mountPoint);
      return "unmounted";
    } });
  }
  for (const name of await listDirIfExists(paths.tmp)) {
    const path = join(paths.tmp, name);
    const owner = ownerOfName(name);
    if (owner !== undefined && ownerAlive(owner, path)) continue;
    if (owner === undefined && Date.now() - (statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? 0) < UNOWNED_AGE_MS) continue;
    const why = owner === undefined ? "no owner in its name, over an hour old" : "left by a dead process";
    const busy = mounts.some((m) => m === path || m.startsWith(`${path}/`));
    problems.push({ line: `${rel(path)}: ${why}`, ...(busy ? {} : { repair: () => removedDir(path) }) });
  }
  for (const name of await listDirIfExists(paths.locks)) {
    const path = join(paths.locks, name);
    if (name.includes(".stale-")) {
      if (deadOwned(name)) problems.push({ line: `${rel(path)}: a dead lock set aside by a process that died taking it over`, repair: () => removed(path) });
    } else if (name.endsWith(".readers")) {
      for (const marker of await listDirIfExists(path)) {
        const owner = parseOwnerToken(marker.replace(/-\d+$/, ""));
        const file = join(path, marker);
        if (owner !== undefined && !ownerAlive(owner, file)) problems.push({ line: `${rel(file)}: shared-lock marker of a dead process`, repair: () => removed(file) });
      }
    } else {
      const dead = await deadOwnerText(path);
      if (dead !== undefined) problems.push({ line: `${rel(path)}: lock held by a dead process`, repair: async () => {
        takeOver(path, dead); // unless a live taker has replaced it meanwhile
        return "removed";
      } });
    }
  }
  for (const name of await deadPinFiles(paths)) {
    problems.push({ line: `${rel(join(pinsDir(paths), name))}: pins of a dead process`, repair: async () => {
      await removePinFile(paths, name);
      return "removed";
    } });
  }
  // names made beside their targets (`<file>.tmp-<owner>-<hex>`, a cache mount's `<folder>.new-…`), in
  // the folders such names are made in
  const folders = [paths.root, join(paths.root, "layersizes"), paths.cache, join(paths.cache, "keys"), join(paths.cache, "steps"), join(paths.cache, "mounts")];
  for (const name of await listDirIfExists(paths.snapshots)) if (/^\d+$/.test(name)) folders.push(join(paths.snapshots, name));
  for (const name of await listDirIfExists(paths.containers)) folders.push(join(paths.containers, name));
  for (const folder of folders) {
    for (const name of await listDirIfExists(folder)) {
      const path = join(folder, name);
      if (name.includes(".") && deadOwned(name, path)) problems.push({ line: `${rel(path)}: temporary file of a dead process`, repair: () => removedDir(path) });
    }
  }
  return { problems, counts: {} };
}

async function removed(path: string): Promise<string> {
  await rm(path, { force: true });
  return "removed";
}

async function removedDir(path: string): Promise<string> {
  await rm(path, { recursive: true, force: true });
  return "removed";
}
