import { lstatSync, readdirSync, rmdirSync, statSync, unlinkSync, utimesSync } from "node:fs";
import { dirname, posix } from "node:path";
import { errnoCode } from "../common/errors.js";
import { resolveInRoot } from "../common/rootpath.js";

// runc creates the mountpoints of bind mounts that do not exist in the rootfs (an empty /etc/hosts,
// maybe /etc itself). Those stubs would end up in the layer. As BuildKit does (executor/stubs.go), we
// note before the run which destinations (and, going up, which parents) are missing, and afterwards
// remove those that are still empty, restoring the parent's timestamps. /proc, /dev and /sys are not
// treated: BuildKit leaves them in the layer too (observed: `RUN true` on busybox adds dev/ proc/ sys/).

/**
 * Records missing mount destinations; the returned function removes the stubs runc left. Synchronous
 * calls: a few metadata calls on every RUN, where each thread-pool round trip cost more than the call.
 */
export async function recordMountStubs(rootfs: string, destinations: string[]): Promise<() => Promise<void>> {
  const missing: string[] = [];
  for (const dest of destinations) {
    // Container paths: resolved to host paths at each use, inside the rootfs.
    let p = posix.join("/", dest);
    if (p === "/") continue;
    for (;;) {
      if (exists(await resolveInRoot(rootfs, p, false))) break;
      missing.push(p);
      const up = posix.dirname(p);
      if (up === p || up === "/") break;
      p = up;
    }
  }
  return async () => {
    for (const p of missing) await removeIfEmptyStub(rootfs, p);
  };
}

function exists(host: string): boolean {
  try {
    return lstatSync(host, { throwIfNoEntry: false }) !== undefined;
  } catch (e) {
    if (errnoCode(e) === "ENOTDIR") return false;
    throw e;
  }
}

async function removeIfEmptyStub(rootfs: string, p: string): Promise<void> {
  const host = await resolveInRoot(rootfs, p, false);
  let st;
  try {
    st = lstatSync(host, { throwIfNoEntry: false });
  } catch (e) {
    if (errnoCode(e) === "ENOTDIR") return;
    throw e;
  }
  if (st === undefined) return;
  if (st.isDirectory()) {
    if (readdirSync(host).length !== 0) return;
  } else if (!st.isFile() || st.size !== 0) {
    return;
  }
  const parent = dirname(host);
  const parentStat = statSync(parent);
  if (st.isDirectory()) rmdirSync(host);
  else unlinkSync(host);
  utimesSync(parent, parentStat.atime, parentStat.mtime);
}
