import { ownedName } from "../common/owner.js";

// Everything a build creates that must be cleaned up if the build dies (scratch folders, mountpoints,
// runc containers) carries its owner in its name: `<kind>-<pid>.<start>-<random>` (common/owner.ts).
// The start-up sweep removes what belongs to dead owners and never touches what belongs to a live one.

/** A fresh name `<kind>-<pid>.<start>-<8 hex>` owned by this process. */
export function scratchName(kind: string): string {
  return ownedName(kind);
}
