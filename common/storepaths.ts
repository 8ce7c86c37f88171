import { join } from "node:path";

/**
 * Where everything lives under the store root. The root itself is an OCI image layout
 * (oci-layout, index.json, blobs/) so skopeo and umoci read it as it is; tsbuild's own
 * folders sit beside the layout's files.
 */
export interface StorePaths {
  root: string;
  /** OCI layout: `oci-layout`, `index.json`, `blobs/sha256/…` live directly in root. */
  layout: string;
  indexJson: string;
  blobs: string;
  /** runtime/ snapshotter: committed and active snapshots, short numeric ids. */
  snapshots: string;
  /** cache/: cache records, digest cache. */
  cache: string;
  /** containers (tsbuild run): state and writable layers. */
  containers: string;
  /** runc's --root. */
  runcState: string;
  /** scratch area, swept at start-up (mountpoints, temporary files). */
  tmp: string;
  /** lock files. */
  locks: string;
  /** Builds hold it shared, garbage collection exclusively (common/lock.ts withSharedLock/withExclusiveLock). */
  gcLock: string;
}

export const DEFAULT_ROOT = "/var/lib/tsbuild";

export function storePaths(root: string): StorePaths {
  return {
    root,
    layout: root,
    indexJson: join(root, "index.json"),
    blobs: join(root, "blobs", "sha256"),
    snapshots: join(root, "snapshots"),
    cache: join(root, "cache"),
    containers: join(root, "containers"),
    runcState: join(root, "runc"),
    tmp: join(root, "tmp"),
    locks: join(root, "locks"),
    gcLock: join(root, "locks", "gc.lock"),
  };
}
