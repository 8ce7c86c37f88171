// Reusing the previous build's copy of unchanged files (CopyRequest.reuse): a one-file edit in a large
// context then links thousands of files instead of copying them, and the layer is byte-for-byte what
// a full copy gives. A file is reused only when its source digest is unchanged, nothing is at its
// target yet, and the previous copy has exactly the owner, mode, size and mtime this copy would give
// it and no xattrs on either side; everything else takes the normal path.
import { linkSync, lstatSync, type Stats } from "node:fs";
import { lutimes } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { errnoCode } from "../../common/errors.js";
import type { StepRecord } from "../../cache/key.js";
import { xattrModule } from "../../common/xattr.js";
import type { CopyContext, CopyReuse, Owner } from "./types.js";

/** Source paths whose content digest is the same in both records' inputs (files only). */
export function unchangedInputs(previous: StepRecord["inputs"], current: StepRecord["inputs"]): Set<string> {
  const out = new Set<string>();
  if (previous === undefined || current === undefined) return out;
  const before = new Map(previous.files.filter((f) => f.type === "file").map((f) => [f.path, f.digest]));
  for (const f of current.files) if (f.type === "file" && before.get(f.path) === f.digest) out.add(f.path);
  return out;
}

/**
 * Takes a regular file (not hardlinked in the source) off the normal copy path when the previous
 * snapshot holds an identical copy of it: it is linked by finishReuse. False: copy it as usual.
 * The checks are synchronous calls: they run once per file of a large tree, and are each one syscall.
 */
export async function deferReuse(
  ctx: CopyContext, src: string, rel: string, st: Stats, target: string, owner: Owner, mode: number, targetAbsent: boolean,
): Promise<boolean> {
  const reuse = ctx.req.reuse;
  if (reuse === undefined || st.nlink > 1 || !reuse.unchanged.has(rel)) return false;
  const inside = relative(ctx.req.destRoot, target);
  if (inside.startsWith("..")) return false;
  const x = await xattrModule();
  if (!targetAbsent && lstatSync(target, { throwIfNoEntry: false }) !== undefined) return false;
  const donor = join(reuse.donor, inside);
  const before = lstatSync(donor, { throwIfNoEntry: false });
  if (!before?.isFile() || before.size !== st.size || (before.mode & 0o7777) !== mode) return false;
  if (before.uid !== owner.uid || before.gid !== owner.gid) return false;
  if (Math.round(before.mtimeMs) !== st.mtime.getTime()) return false; // lutimes wrote st.mtime (ms)
  if (hasXattrs(x, src) || hasXattrs(x, donor)) return false;
  ctx.deferred.push({ src, st, target, inside });
  return true;
}

/** Any extended attribute a copy would carry (overlay's own are never copied); unsupported: none. */
function hasXattrs(x: Awaited<ReturnType<typeof xattrModule>>, path: string): boolean {
  let names: string[];
  try {
    names = x.listAttributesSync(path);
  } catch (e) {
    // @napi-rs/xattr errors carry the errno in their message ("... (os error 95)")
    if (e instanceof Error && /\(os error 95\)/.test(e.message)) return false;
    throw e;
  }
  return names.some((n) => !n.startsWith("trusted.overlay."));
}

/**
 * Links the deferred files into the upper dir (still mounted, but nothing looks at these paths
 * through the mount again before it is unmounted), then gives the folders they went into the times
 * the copy gave them. A file whose folder has no upper dir (a lower folder nothing else was
 * written into) is copied through the mount instead, by `copy`.
 */
export async function finishReuse(ctx: CopyContext, copy: (src: string, st: Stats, target: string) => Promise<void>): Promise<void> {
  const reuse = ctx.req.reuse as CopyReuse | undefined;
  if (reuse === undefined || ctx.deferred.length === 0) return;
  const touched = new Set<string>();
  for (const d of ctx.deferred) {
    try {
      linkSync(join(reuse.donor, d.inside), join(reuse.upper, d.inside)); // thousands in a row: see deferReuse
      reuse.linked.add(d.inside);
    } catch (e) {
      const code = errnoCode(e);
      if (code !== "ENOENT" && code !== "EEXIST") throw e;
      await copy(d.src, d.st, d.target);
    }
    touched.add(dirname(d.target));
  }
  for (const folder of touched) {
    const times = ctx.folderTimes.get(folder);
    if (times !== undefined) await lutimes(join(reuse.upper, relative(ctx.req.destRoot, folder)), times.atime, times.mtime);
  }
}
