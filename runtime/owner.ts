import { errnoCode } from "../common/errors.js";
import { randomHex } from "../common/digest.js";

// Everything a build creates that must be cleaned up if the build dies (scratch folders, mountpoints,
// runc containers) carries its owner's pid in its name: `<kind>-<pid>-<random>`. The start-up sweep
// removes what belongs to dead pids and never touches what belongs to a live tsbuild.

/** A fresh name `<kind>-<pid>-<8 hex>` owned by this process. */
export function scratchName(kind: string): string {
  return `${kind}-${process.pid}-${randomHex(4)}`;
}

// 8 hex digits here; image/ temporary files (blob ingests, written via a temp name) use 12.
const OWNED_NAME = /^[a-z]+-(\d+)-[0-9a-f]{8}(?:[0-9a-f]{4})?$/;

/** The owner pid encoded in a scratch name, or undefined if the name is not one. */
export function ownerPidOf(name: string): number | undefined {
  const m = OWNED_NAME.exec(name);
  return m ? Number.parseInt(m[1] as string, 10) : undefined;
}

/** Whether a process with this pid exists (EPERM still means it exists). */
export function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    if (errnoCode(e) === "ESRCH") return false;
    if (errnoCode(e) === "EPERM") return true;
    throw e;
  }
}
