// Copying one source entry (a file, or a folder with everything in it) to a host path inside the rootfs.
// Symlinks inside a copied folder stay symlinks; files sharing an inode stay hardlinked (BuildKit keeps
// both); modes incl. setuid are kept unless --chmod; owners are 0:0 for context files, kept for --from.
import { constants, lstatSync, readdirSync, type Stats } from "node:fs";
import { copyFile, link, lstat, lutimes, mkdir, readdir, readlink, symlink, writeFile } from "node:fs/promises";
import { posix } from "node:path";
import { DockerfileError } from "../../common/errors.js";
import { settleAll } from "../../common/limit.js";
import { applyMetadata, readXattrs } from "./metadata.js";
import { lstatOrUndefined, removeExisting } from "./destination.js";
import { isIncluded } from "./visibility.js";
import { withoutNonUtf8 } from "./names.js";
import { deferReuse } from "./reuse.js";
import { copyPlainFiles, MIN_PLAIN_BATCH } from "./plainbatch.js";
import type { CopyContext, Owner } from "./types.js";

function ownerOf(ctx: CopyContext, st: Stats): Owner {
  if (ctx.req.chown) return ctx.req.chown;
  return ctx.req.fromContext ? { uid: 0, gid: 0 } : { uid: st.uid, gid: st.gid };
}

function modeOf(ctx: CopyContext, st: Stats): number {
  return ctx.req.chmod ?? st.mode & 0o7777;
}

/** Gives a copied file or folder its source's owner (or --chown), mode (or --chmod), times and xattrs. */
export async function copyMetadata(ctx: CopyContext, src: string, st: Stats, target: string): Promise<void> {
  await applyMetadata(target, false, {
    owner: ownerOf(ctx, st),
    mode: modeOf(ctx, st),
    atime: st.atime,
    mtime: st.mtime,
    xattrs: await readXattrs(src),
  });
}

/** The container path of a host path under destRoot, for messages. */
function shown(ctx: CopyContext, host: string): string {
  const rel = posix.relative(ctx.req.destRoot, host);
  return "/" + rel;
}

/** Copies a regular file (or recreates a hardlink to one copied before in this request). */
export async function copyRegularFile(ctx: CopyContext, src: string, st: Stats, target: string): Promise<void> {
  const existing = await lstatOrUndefined(target);
  if (existing?.isDirectory()) {
    throw new DockerfileError(ctx.req.place, `cannot replace to directory ${shown(ctx, target)} with file`);
  }
  if (existing) await removeExisting(target);
  const key = `${st.dev}:${st.ino}`;
  // Link to the first copy of this inode, unless that copy is gone (replaced by a later source).
  const first = st.nlink > 1 ? ctx.links.get(key) : undefined;
  if (first !== undefined && first.path !== target && (await lstatOrUndefined(first.path))?.ino === first.ino) {
    await link(first.path, target);
    return;
  }
  await copyFile(src, target, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
  await copyMetadata(ctx, src, st, target);
  if (st.nlink > 1) ctx.links.set(key, { path: target, ino: (await lstat(target)).ino });
}

async function copySymlink(ctx: CopyContext, src: string, st: Stats, target: string): Promise<void> {
  const existing = await lstatOrUndefined(target);
  if (existing?.isDirectory()) {
    throw new DockerfileError(ctx.req.place, `cannot replace to directory ${shown(ctx, target)} with symlink`);
  }
  if (existing) await removeExisting(target);
  await symlink(await readlink(src), target);
  await applyMetadata(target, true, { owner: ownerOf(ctx, st), atime: st.atime, mtime: st.mtime });
}

/**
 * Copies the contents of folder `src` (relative path `rel` in the source root) into the folder `target`.
 * isTop: `target` is the destination itself, which BuildKit leaves as it is (or created 0755);
 * nested folders take the source folder's owner and mode, also when they already exist.
 */
export async function copyFolder(ctx: CopyContext, src: string, rel: string, st: Stats, target: string, isTop: boolean): Promise<void> {
  // a folder made here is empty: nothing can be in the way of its entries (saves a lookup per file)
  let fresh = false;
  if (!isTop) {
    const existing = await lstatOrUndefined(target);
    if (existing && !existing.isDirectory()) await removeExisting(target);
    if (!existing?.isDirectory()) {
      await mkdir(target);
      fresh = true;
    }
  } else {
    // the destination is usually made for this COPY: empty, nothing can be in the way of its entries either
    fresh = readdirSync(target).length === 0;
  }
  // Entries are looked at and copied concurrently (a global limit bounds the syscalls in flight);
  // folders recurse without taking a slot, so a deep tree cannot starve itself. Files with other
  // hardlinks go last and in order, so the first copy of an inode is the one the others link to.
  const names = withoutNonUtf8((await readdir(src)).sort(), src, rel, (r) => ctx.req.filter?.(r) ?? true, ctx.req.place, ctx.req.fromContext ? "build context" : "source");
  const children = await settleAll(names.map((name) => ctx.limit(async () => {
    const childRel = rel === "." ? name : `${rel}/${name}`;
    const child = posix.join(src, name);
    const childStat = lstatSync(child); // one syscall: cheaper than its thread-pool round trip
    return { name, child, childRel, childStat, included: await isIncluded(child, childRel, childStat, ctx.req) };
  })));
  const linked = children.filter((c) => c.included && c.childStat.isFile() && c.childStat.nlink > 1);
  // in a folder made here, plain files go in one native call (plainbatch.ts); the reuse path has its own
  const plain = fresh && ctx.req.reuse === undefined ? children.filter((c) => c.included && c.childStat.isFile() && c.childStat.nlink === 1) : [];
  const batched = new Set(plain.length >= MIN_PLAIN_BATCH ? plain : []);
  const batch = batched.size === 0 ? [] : [ctx.limit(() => copyPlainFiles([...batched].map((c) => ({
    src: c.child, st: c.childStat, target: posix.join(target, c.name), owner: ownerOf(ctx, c.childStat), mode: modeOf(ctx, c.childStat),
  })), (f) => copyRegularFile(ctx, f.src, f.st, f.target)))];
  await settleAll([...batch, ...children.filter((c) => c.included && !linked.includes(c) && !batched.has(c)).map((c) => {
    const to = posix.join(target, c.name);
    if (c.childStat.isDirectory()) return copyFolder(ctx, c.child, c.childRel, c.childStat, to, false);
    return ctx.limit(() => copyEntry(ctx, c.child, c.childRel, c.childStat, to, fresh));
  })]);
  for (const c of linked) await copyEntry(ctx, c.child, c.childRel, c.childStat, posix.join(target, c.name));
  if (!isTop) {
    await copyMetadata(ctx, src, st, target);
    if (ctx.req.reuse) ctx.folderTimes.set(target, { atime: st.atime, mtime: st.mtime });
  } else {
    // BuildKit (fsutil's copy): the destination of a folder copy, made for it or there already, takes
    // the source folder's times once its contents are in; its owner and mode stay as they were made.
    // The context's root is the exception: BuildKit's copy of the context has it dated by the transfer.
    const now = new Date();
    const times = ctx.req.fromContext && rel === "." ? { atime: now, mtime: now } : { atime: st.atime, mtime: st.mtime };
    await lutimes(target, times.atime, times.mtime);
    if (ctx.req.reuse) ctx.folderTimes.set(target, times);
  }
}

/**
 * A socket in the build context arrives in BuildKit as an empty regular file with the socket's
 * permission bits and times (its context transfer writes it so; BuildKit's testCopySocket), and is
 * copied as such.
 */
export async function copySocketAsFile(ctx: CopyContext, st: Stats, target: string): Promise<void> {
  const existing = await lstatOrUndefined(target);
  if (existing?.isDirectory()) {
    throw new DockerfileError(ctx.req.place, `cannot replace to directory ${shown(ctx, target)} with file`);
  }
  if (existing) await removeExisting(target);
  await writeFile(target, "", { flag: "wx", mode: 0o600 });
  await applyMetadata(target, false, { owner: ownerOf(ctx, st), mode: modeOf(ctx, st), atime: st.atime, mtime: st.mtime });
}

/** Copies one entry found inside a copied folder (symlinks are not followed). */
export async function copyEntry(ctx: CopyContext, src: string, rel: string, st: Stats, target: string, fresh = false): Promise<void> {
  if (st.isDirectory()) return copyFolder(ctx, src, rel, st, target, false);
  if (st.isFile()) {
    if (await deferReuse(ctx, src, rel, st, target, ownerOf(ctx, st), modeOf(ctx, st), fresh)) return;
    return copyRegularFile(ctx, src, st, target);
  }
  if (st.isSymbolicLink()) return copySymlink(ctx, src, st, target);
  if (st.isSocket()) return ctx.req.fromContext ? copySocketAsFile(ctx, st, target) : undefined; // a layer holds no socket
  throw new DockerfileError(ctx.req.place, `cannot copy ${rel}: device nodes and fifos are not supported by tsbuild's COPY`);
}
