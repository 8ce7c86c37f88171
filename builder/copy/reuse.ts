// Reusing the previous build's copy of unchanged files (CopyRequest.reuse): after a one-file edit in a
// large context, thousands of files are written straight into the upper dir by the native helper (on
// the thread pool) instead of through the overlay mount, and their layer members come from the previous layer; the
// layer is byte-for-byte what a full copy gives. A file is reused only when its source digest is
// unchanged, nothing is at its target yet, and the previous copy has exactly the owner, mode, size
// and mtime this copy gives it and no xattrs on either side; everything else takes the normal path.
// (The files are copies, not hardlinks: a link would show st_nlink 2 to later RUN steps.)
// Stacked on the previous snapshot (CopyReuse.stacked), the previous copy is at the target already: the
// same checks leave a matching file where it is, and the rest is copied over it through the mount. An
// unchanged file whose ctime is older than the previous build (any write, chmod, chown, xattr change,
// rename or link since would have moved it) is kept without a look (settledFiles): that build's copy of
// it is what a copy gives now, as a copy's result depends only on the source file and the definition.
import { lstatSync, type Stats } from "node:fs";
import { availableParallelism } from "node:os";
import { getSystemErrorName } from "node:util";
import { lutimes } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { RuntimeFailure } from "../../common/errors.js";
import { NOT_REUSABLE, native } from "../../common/native.js";
import type { StepRecord } from "../../cache/key.js";
import { ctimeMsOfStatKey } from "../../cache/digestcache.js";
import type { CopyContext, CopyReuse, Owner } from "./types.js";

/** How the inputs of a copy compare with those of the previous copy of the step. */
export interface InputsComparison {
  /** Source paths of files whose content digest and mode are the same in both. */
  unchanged: Set<string>;
  /** Every path of the previous inputs is still there with the same type (nothing to delete). */
  allKept: boolean;
}

/** One pass over both input lists (20,000 entries for a large context). */
export function compareInputs(previous: StepRecord["inputs"], current: StepRecord["inputs"]): InputsComparison {
  const unchanged = new Set<string>();
  if (previous === undefined || current === undefined) return { unchanged, allKept: false };
  const now = new Map(current.files.map((f) => [f.path, f]));
  let allKept = true;
  for (const f of previous.files) {
    const same = now.get(f.path);
    if (same?.type !== f.type) allKept = false;
    else if (f.type === "file" && same.digest === f.digest && same.mode === f.mode) unchanged.add(f.path);
  }
  return { unchanged, allKept };
}

/** Source paths whose content digest and mode are the same in both records' inputs (files only). */
export function unchangedInputs(previous: StepRecord["inputs"], current: StepRecord["inputs"]): Set<string> {
  return compareInputs(previous, current).unchanged;
}

/** A ctime must be this much older than the previous build's start to count as settled (the kernel's clock for it is coarse). */
const SETTLE_MARGIN_MS = 1000;

/**
 * The unchanged files whose status (ctime, from the key's walk: statKeys) last changed before the
 * previous build of the step started: as they were when that build copied them.
 */
export function settledFiles(unchanged: Set<string>, statKeys: Map<string, string>, previousStart: number): Set<string> {
  const out = new Set<string>();
  for (const rel of unchanged) {
    const key = statKeys.get(rel);
    if (key !== undefined && ctimeMsOfStatKey(key) < previousStart - SETTLE_MARGIN_MS) out.add(rel);
  }
  return out;
}

/** Fewer unchanged files than this: the previous copy is not worth taking from (reading its layer's index costs more than copying a few files). */
export const MIN_REUSED_FILES = 64;

/**
 * Fewer unchanged files than this: the copy is not stacked. A stacked snapshot is not quite invisible:
 * overlayfs reports st_nlink 1 for a folder found in more than one layer, so a later RUN sees link
 * count 1 for the folders that hold changed files (and their parents), where BuildKit's single-dir
 * copy shows the real count (test/stackedcopy.test.ts). Only a large copy, where writing every file
 * again costs seconds, is worth that.
 */
export const MIN_STACKED_FILES = 1000;

/**
 * Whether a copy may be stacked on the previous copy (see CopyReuse.stacked): every path the previous
 * copy wrote is still there with the same type (so each is replaced or kept, nothing has to be
 * deleted), and enough files are unchanged.
 */
export function stackableOn(comparison: InputsComparison): boolean {
  return comparison.allKept && comparison.unchanged.size >= MIN_STACKED_FILES;
}

/**
 * Takes a regular file (not hardlinked in the source) off the normal copy path when the previous
 * build's copy of it may be reused: finishReuse checks that copy (the donor) and writes the file, or
 * hands it back to the normal path. False: copy it as usual.
 */
export async function deferReuse(
  ctx: CopyContext, src: string, rel: string, st: Stats, target: string, owner: Owner, mode: number, targetAbsent: boolean,
): Promise<boolean> {
  const reuse = ctx.req.reuse;
  if (reuse === undefined || st.nlink > 1 || !reuse.unchanged.has(rel)) return false;
  const inside = relative(ctx.req.destRoot, target);
  if (inside.startsWith("..")) return false;
  if (!reuse.stacked && !targetAbsent && lstatSync(target, { throwIfNoEntry: false }) !== undefined) return false;
  // under the mount is not the previous build's copy of it, whose content the record vouches for
  if (reuse.stacked?.changedSince?.has(inside)) return false;
  ctx.deferred.push({ src, st, owner, mode, target, inside });
  return true;
}

/**
 * Copies the deferred files straight into the upper dir (still mounted, but nothing looks at these
 * paths through the mount again before it is unmounted), with the metadata the normal path gives them
 * in its order, then gives the folders they went into the times the copy gave them. The native helper
 * first checks each file's donor: a regular file of the same size, mode, owner and mtime (ms, as the
 * copy wrote it), neither with extended attributes. A file that fails that, whose folder has no upper
 * dir (a lower folder nothing else was written into) or whose place is taken (a whiteout) is copied
 * through the mount instead, by `copy`. Stacked, the donor is the target: a match stays as it is.
 */
export async function finishReuse(ctx: CopyContext, copy: (src: string, st: Stats, target: string) => Promise<void>): Promise<void> {
  const reuse = ctx.req.reuse as CopyReuse | undefined;
  if (reuse === undefined || ctx.deferred.length === 0) return;
  const touched = new Set<string>();
  const results = await copyInBatches(ctx.deferred, reuse.upper, reuse.donor);
  for (const [i, d] of ctx.deferred.entries()) {
    const errno = results[i] as number;
    if (errno !== 0) {
      const code = errno === NOT_REUSABLE ? undefined : getSystemErrorName(-errno);
      if (code !== undefined && code !== "ENOENT" && code !== "EEXIST") {
        throw new RuntimeFailure(`copying ${d.src} to ${join(reuse.upper, d.inside)}: ${code}`);
      }
      await copy(d.src, d.st, d.target);
    } else {
      reuse.reused.add(d.inside);
    }
    // folders written into after the copy gave them their times (stacked: only by the fallback copy)
    if (errno !== 0 || !reuse.stacked) touched.add(dirname(d.target));
  }
  for (const folder of touched) {
    const times = ctx.folderTimes.get(folder);
    if (times !== undefined) await lutimes(join(reuse.upper, relative(ctx.req.destRoot, folder)), times.atime, times.mtime);
  }
}

/**
 * The deferred files copied into the upper dir by the native helper, split over the thread pool (file
 * creation is most of a 20,000-file COPY): each file's errno, in order.
 */
async function copyInBatches(deferred: CopyContext["deferred"], upper: string, donor: string): Promise<Int32Array> {
  const threads = Math.max(1, Math.min(4, availableParallelism()));
  const size = Math.ceil(deferred.length / threads);
  const batches: Array<Promise<Int32Array>> = [];
  for (let start = 0; start < deferred.length; start += size) {
    const part = deferred.slice(start, start + size);
    const meta = new Float64Array(part.length * 5);
    part.forEach((d, i) => meta.set([d.owner.uid, d.owner.gid, d.mode, d.st.atime.getTime(), d.st.mtime.getTime()], i * 5));
    batches.push(native().copyFiles(part.map((d) => d.src), part.map((d) => join(upper, d.inside)), meta, part.map((d) => join(donor, d.inside))));
  }
  const out = new Int32Array(deferred.length);
  let at = 0;
  for (const result of await Promise.all(batches)) {
    out.set(result, at);
    at += result.length;
  }
  return out;
}
