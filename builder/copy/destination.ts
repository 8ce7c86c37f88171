// Destination paths of a COPY/ADD, always resolved inside the step's rootfs (a symlink to `/x` in the
// rootfs means rootfs/x, never the host's /x), and the folders created on the way.
import { chmod, lchown, mkdir, rm } from "node:fs/promises";
import { lstatOrUndefined } from "../../common/fsutil.js";
import { posix } from "node:path";
import { DockerfileError, type SourcePlace } from "../../common/errors.js";
import { resolveInsideRoot } from "../../common/rootpath.js";
import type { Owner } from "./types.js";

/** The destination as an absolute container path: relative to workdir unless absolute. */
export function destinationPath(dest: string, workdir: string): string {
  return posix.resolve("/", workdir || "/", dest);
}

/** A destination that names a folder to copy into: ends with `/`, or is `.`/`..` (BuildKit's rule). */
export function destinationIsFolder(dest: string): boolean {
  return dest.endsWith("/") || dest === "." || dest === ".." || dest.endsWith("/.") || dest.endsWith("/..");
}

export function hostPath(root: string, containerPath: string): string {
  return containerPath === "/" ? root : posix.join(root, containerPath);
}

export { lstatOrUndefined };

/**
 * Makes sure the folder `containerPath` exists in root, creating missing ones (mode 0755, owned by
 * `owner`: BuildKit gives created parents the --chown owner, else 0:0). Existing folders are left as
 * they are. Returns the folder's resolved container path. A non-folder in the way fails as BuildKit
 * words it: `mkdir /a: not a directory`, or for the destination of a folder copy (copyTarget)
 * `cannot copy to non-directory: /a`.
 */
export async function ensureFolder(
  root: string,
  containerPath: string,
  owner: Owner,
  place: SourcePlace,
  copyTarget = false,
): Promise<string> {
  const parts = containerPath.split("/").filter((p) => p !== "");
  let current = "/";
  for (let i = 0; i < parts.length; i++) {
    const next = await resolveInsideRoot(root, posix.join(current, parts[i] as string), true);
    const host = hostPath(root, next);
    const st = await lstatOrUndefined(host);
    if (st === undefined) {
      await makeFolders(root, next, owner);
    } else if (!st.isDirectory()) {
      const isLast = i === parts.length - 1;
      throw new DockerfileError(place, isLast && copyTarget ? `cannot copy to non-directory: ${next}` : `mkdir ${next}: not a directory`);
    }
    current = next;
  }
  return current;
}

/**
 * Creates the container folder `resolved` and those missing above it (a symlink can name a path several
 * levels deep that does not exist yet: containerd's mkparent creates them all). `resolved` holds no
 * symlink: only its missing tail is created, from the top down.
 */
async function makeFolders(root: string, resolved: string, owner: Owner): Promise<void> {
  const missing: string[] = [];
  for (let p = resolved; p !== "/" && (await lstatOrUndefined(hostPath(root, p))) === undefined; p = posix.dirname(p)) missing.unshift(p);
  for (const p of missing) {
    const host = hostPath(root, p);
    await mkdir(host);
    await lchown(host, owner.uid, owner.gid);
    await chmod(host, 0o755);
  }
}

/** Clears the way for a new entry at host path `path`: whatever is there (file, link, folder) goes. */
export async function removeExisting(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}
