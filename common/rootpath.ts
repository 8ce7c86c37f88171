import { lstatSync, readlinkSync } from "node:fs";
import { posix } from "node:path";
import { errnoCode } from "./errors.js";

const MAX_LINKS = 255;

/**
 * Resolves `path` (as a process inside the container would see it) to a host path under `root`,
 * following symlinks as if `root` were `/`, so that no link and no `..` can lead outside root.
 * Components that do not exist are kept as they are. With followFinal=false the last component
 * is not dereferenced (for lstat-like uses: COPY onto a symlink replaces the link).
 */
export async function resolveInRoot(root: string, path: string, followFinal = true): Promise<string> {
  const rel = resolveRelative(root, path, followFinal);
  return rel === "" ? root : posix.join(root, rel);
}

/** Like resolveInRoot, but returns the resolved path inside the container (starting with `/`). */
export async function resolveInsideRoot(root: string, path: string, followFinal = true): Promise<string> {
  return "/" + resolveRelative(root, path, followFinal);
}

// Synchronous calls: a few lstats of paths the kernel has cached, asked several times a step, where
// each thread-pool round trip cost more than the call.
function resolveRelative(root: string, path: string, followFinal: boolean): string {
  let pending = splitPath(path);
  const done: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift() as string;
    if (part === "." || part === "") continue;
    if (part === "..") {
      done.pop();
      continue;
    }
    const isFinal = pending.length === 0;
    const candidate = posix.join(root, ...done, part);
    if (isFinal && !followFinal) {
      done.push(part);
      break;
    }
    let isLink = false;
    try {
      isLink = lstatSync(candidate, { throwIfNoEntry: false })?.isSymbolicLink() ?? false;
    } catch (e) {
      if (errnoCode(e) !== "ENOTDIR") throw e;
    }
    if (!isLink) {
      done.push(part);
      continue;
    }
    if (++links > MAX_LINKS) throw new Error(`too many levels of symbolic links resolving ${path}`);
    const target = readlinkSync(candidate);
    const rest = splitPath(target);
    if (target.startsWith("/")) done.length = 0;
    pending = [...rest, ...pending];
  }
  return done.join("/");
}

function splitPath(p: string): string[] {
  return p.split("/").filter((s) => s !== "");
}
