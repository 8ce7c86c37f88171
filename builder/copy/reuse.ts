// Reusing the previous build's copy of unchanged files (CopyRequest.reuse): after a one-file edit in a
// large context, thousands of files are written straight into the upper dir by the native helper (on
// the thread pool, in batches while the walk goes on) instead of through the overlay mount, and their
// layer members come from the previous layer; the layer is byte-for-byte what a full copy gives. A file is reused only when its source digest is
// unchanged, nothing is at its target yet, and the previous copy has exactly the owner, mode, size
// and mtime this copy gives it and no xattrs on either side; everything else takes the normal path.
// (The files are copies, not hardlinks: a link would show st_nlink 2 to later RUN steps.) Whether a
// COPY takes this path at all is builder/fastcopy.ts's decision.
import { lstatSync, type Stats } from "node:fs";
import { availableParallelism } from "node:os";
import { getSystemErrorName } from "node:util";
import { lutimes } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { RuntimeFailure } from "../../common/errors.js";
import { createLimiter } from "../../common/limit.js";
import { NOT_REUSABLE, native } from "../../common/native.js";
import type { StepRecord } from "../../cache/key.js";
import type { CopyContext, CopyReuse, Owner } from "./types.js";

/** Source paths whose content digest and mode are the same in both records' inputs (files only). */
export function unchangedInputs(previous: StepRecord["inputs"], current: StepRecord["inputs"]): Set<string> {
  const unchanged = new Set<string>();
  if (previous === undefined || current === undefined) return unchanged;
  const now = new Map(current.files.map((f) => [f.path, f]));
  for (const f of previous.files) {
    const same = now.get(f.path);
    if (f.type === "file" && same?.type === "file" && same.digest === f.digest && same.mode === f.mode) unchanged.add(f.path);
  }
  return unchanged;
}

/** Fewer unchanged files than this: the previous copy is not worth taking from (reading its layer's index costs more than copying a few files). */
export const MIN_REUSED_FILES = 64;

/** Deferred files per native call: the copies start while the walk goes on (file creation is most of a 20,000-file COPY). */
const BATCH = 1000;

/** Native copies running at once: one per core (at most 4), leaving the walk's own calls room on the thread pool. */
const nativeCopies = createLimiter(Math.max(1, Math.min(4, availableParallelism())));

/**
 * Takes a regular file (not hardlinked in the source) off the normal copy path when the previous
 * build's copy of it may be reused: the native helper checks that copy (the donor) and writes the
 * file, or finishReuse hands it back to the normal path. False: copy it as usual.
 */
export async function deferReuse(
  ctx: CopyContext, src: string, rel: string, st: Stats, target: string, owner: Owner, mode: number, targetAbsent: boolean,
): Promise<boolean> {
  const reuse = ctx.req.reuse;
  if (reuse === undefined || st.nlink > 1 || !reuse.unchanged.has(rel)) return false;
  const inside = relative(ctx.req.destRoot, target);
  if (inside.startsWith("..")) return false;
  if (!targetAbsent && lstatSync(target, { throwIfNoEntry: false }) !== undefined) return false;
  ctx.deferred.push({ src, st, owner, mode, target, inside });
  if (ctx.deferred.length % BATCH === 0) startCopies(ctx, reuse, ctx.deferred.length - BATCH);
  return true;
}

/** Starts the native copy of the deferred files from `start` on (a batch, or what is left at the end). */
function startCopies(ctx: CopyContext, reuse: CopyReuse, start: number): void {
  const part = ctx.deferred.slice(start, start + BATCH);
  const meta = new Float64Array(part.length * 5);
  part.forEach((d, i) => meta.set([d.owner.uid, d.owner.gid, d.mode, d.st.atime.getTime(), d.st.mtime.getTime()], i * 5));
  const targets = part.map((d) => join(reuse.upper, d.inside));
  const donors = part.map((d) => join(reuse.donor, d.inside));
  const copies = nativeCopies(() => native().copyFiles(part.map((d) => d.src), targets, meta, donors));
  copies.catch(() => undefined); // awaited by finishReuse; not unhandled if the walk fails first
  ctx.copies.push(copies);
}

/**
 * Waits for the deferred files' copies straight into the upper dir (still mounted, but nothing looks
 * at these paths through the mount again before it is unmounted), made with the metadata the normal
 * path gives them in its order, then gives the folders they went into the times the copy gave them.
 * The native helper first checks each file's donor: a regular file of the same size, mode, owner and
 * mtime (ms, as the copy wrote it), neither with extended attributes. A file that fails that, whose folder has no upper
 * dir (a lower folder nothing else was written into) or whose place is taken (a whiteout) is copied
 * through the mount instead, by `copy`.
 */
export async function finishReuse(ctx: CopyContext, copy: (src: string, st: Stats, target: string) => Promise<void>): Promise<void> {
  const reuse = ctx.req.reuse as CopyReuse | undefined;
  if (reuse === undefined || ctx.deferred.length === 0) return;
  const rest = ctx.deferred.length % BATCH;
  if (rest !== 0) startCopies(ctx, reuse, ctx.deferred.length - rest);
  const results = await Promise.all(ctx.copies);
  const touched = new Set<string>();
  for (const [i, d] of ctx.deferred.entries()) {
    const errno = (results[Math.floor(i / BATCH)] as Int32Array)[i % BATCH] as number;
    if (errno !== 0) {
      const code = errno === NOT_REUSABLE ? undefined : getSystemErrorName(-errno);
      if (code !== undefined && code !== "ENOENT" && code !== "EEXIST") {
        throw new RuntimeFailure(`copying ${d.src} to ${join(reuse.upper, d.inside)}: ${code}`);
      }
      await copy(d.src, d.st, d.target);
    } else {
      reuse.reused.add(d.inside);
    }
    touched.add(dirname(d.target)); // written into after the copy gave it its times
  }
  for (const folder of touched) {
    const times = ctx.folderTimes.get(folder);
    if (times !== undefined) await lutimes(join(reuse.upper, relative(ctx.req.destRoot, folder)), times.atime, times.mtime);
  }
}
