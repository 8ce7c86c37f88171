// Reusing the previous build's copy of unchanged files (CopyRequest.reuse): after a one-file edit in a
// large context, thousands of files are written straight into the upper dir with synchronous calls
// instead of through the overlay mount, and their layer members come from the previous layer; the
// layer is byte-for-byte what a full copy gives. A file is reused only when its source digest is
// unchanged, nothing is at its target yet, and the previous copy has exactly the owner, mode, size
// and mtime this copy gives it and no xattrs on either side; everything else takes the normal path.
// (The files are copies, not hardlinks: a link would show st_nlink 2 to later RUN steps.)
import { chmodSync, constants, copyFileSync, lchownSync, lstatSync, lutimesSync, type Stats } from "node:fs";
import { lutimes } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { errnoCode } from "../../common/errors.js";
import type { StepRecord } from "../../cache/key.js";
import { listAttributesSync } from "../../common/xattr.js";
import type { CopyContext, CopyReuse, Owner } from "./types.js";

/** Source paths whose content digest and mode are the same in both records' inputs (files only). */
export function unchangedInputs(previous: StepRecord["inputs"], current: StepRecord["inputs"]): Set<string> {
  const out = new Set<string>();
  if (previous === undefined || current === undefined) return out;
  const before = new Map(previous.files.filter((f) => f.type === "file").map((f) => [f.path, f]));
  for (const f of current.files) {
    const old = f.type === "file" ? before.get(f.path) : undefined;
    if (old !== undefined && old.digest === f.digest && old.mode === f.mode) out.add(f.path);
  }
  return out;
}

/**
 * Takes a regular file (not hardlinked in the source) off the normal copy path when the previous
 * snapshot holds an identical copy of it: finishReuse writes it. False: copy it as usual.
 * The checks are synchronous calls: they run once per file of a large tree, and are each one syscall.
 */
export async function deferReuse(
  ctx: CopyContext, src: string, rel: string, st: Stats, target: string, owner: Owner, mode: number, targetAbsent: boolean,
): Promise<boolean> {
  const reuse = ctx.req.reuse;
  if (reuse === undefined || st.nlink > 1 || !reuse.unchanged.has(rel)) return false;
  const inside = relative(ctx.req.destRoot, target);
  if (inside.startsWith("..")) return false;
  if (!targetAbsent && lstatSync(target, { throwIfNoEntry: false }) !== undefined) return false;
  const donor = join(reuse.donor, inside);
  const before = lstatSync(donor, { throwIfNoEntry: false });
  if (!before?.isFile() || before.size !== st.size || (before.mode & 0o7777) !== mode) return false;
  if (before.uid !== owner.uid || before.gid !== owner.gid) return false;
  if (Math.round(before.mtimeMs) !== st.mtime.getTime()) return false; // lutimes wrote st.mtime (ms)
  if (hasXattrs(src) || hasXattrs(donor)) return false;
  ctx.deferred.push({ src, st, owner, mode, target, inside });
  return true;
}

/** Any extended attribute a copy would carry (overlay's own are never copied); unsupported: none. */
function hasXattrs(path: string): boolean {
  let names: string[];
  try {
    names = listAttributesSync(path);
  } catch (e) {
    if (errnoCode(e) === "ENOTSUP") return false;
    throw e;
  }
  return names.some((n) => !n.startsWith("trusted.overlay."));
}

/**
 * Copies the deferred files straight into the upper dir (still mounted, but nothing looks at these
 * paths through the mount again before it is unmounted), with the metadata the normal path gives them
 * in its order, then gives the folders they went into the times the copy gave them. A file whose
 * folder has no upper dir (a lower folder nothing else was written into) or whose place is taken
 * (a whiteout) is copied through the mount instead, by `copy`.
 */
export async function finishReuse(ctx: CopyContext, copy: (src: string, st: Stats, target: string) => Promise<void>): Promise<void> {
  const reuse = ctx.req.reuse as CopyReuse | undefined;
  if (reuse === undefined || ctx.deferred.length === 0) return;
  const touched = new Set<string>();
  for (const d of ctx.deferred) {
    try {
      // thousands in a row: synchronous calls (see deferReuse); a reflink where the filesystem has them
      copyFileSync(d.src, join(reuse.upper, d.inside), constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
    } catch (e) {
      const code = errnoCode(e);
      if (code !== "ENOENT" && code !== "EEXIST") throw e;
      await copy(d.src, d.st, d.target);
      touched.add(dirname(d.target));
      continue;
    }
    const to = join(reuse.upper, d.inside);
    lchownSync(to, d.owner.uid, d.owner.gid);
    chmodSync(to, d.mode);
    lutimesSync(to, d.st.atime, d.st.mtime);
    reuse.reused.add(d.inside);
    touched.add(dirname(d.target));
  }
  for (const folder of touched) {
    const times = ctx.folderTimes.get(folder);
    if (times !== undefined) await lutimes(join(reuse.upper, relative(ctx.req.destRoot, folder)), times.atime, times.mtime);
  }
}
