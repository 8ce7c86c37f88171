// Owner, mode, times and extended attributes of a copied entry, applied in BuildKit's order:
// xattrs first, then lchown (which makes the kernel drop security.capability, exactly as it does under
// BuildKit: no capability survives a COPY, see copy.test.ts), then chmod (chown may clear setuid), then times.
import { chmod, lchown, lutimes } from "node:fs/promises";
import { getAttribute, listAttributes, setAttribute } from "../../common/xattr.js";
import type { Owner } from "./types.js";
import { errnoCode } from "../../common/errors.js";

export interface EntryMetadata {
  owner: Owner;
  /** Permission bits (& 0o7777); undefined for symlinks. */
  mode?: number;
  atime: number | Date;
  mtime: number | Date;
  xattrs?: Map<string, Buffer>;
}

/** The filesystem has no extended attributes (of this namespace). */
const unsupported = (e: unknown): boolean => errnoCode(e) === "ENOTSUP";

/** The extended attributes of a file or folder (not a symlink); none where the filesystem has none. */
export async function readXattrs(path: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  let names: string[];
  try {
    names = await listAttributes(path);
  } catch (e) {
    if (unsupported(e)) return out;
    throw e;
  }
  for (const name of names) {
    if (name.startsWith("trusted.overlay.")) continue; // overlayfs bookkeeping of a source layer, never content
    const value = await getAttribute(path, name); // null: removed meanwhile
    if (value !== null) out.set(name, value);
  }
  return out;
}

async function writeXattrs(path: string, xattrs: Map<string, Buffer>): Promise<void> {
  for (const [name, value] of xattrs) {
    try {
      await setAttribute(path, name, value);
    } catch (e) {
      if (unsupported(e)) continue; // the destination filesystem cannot hold this namespace
      throw e;
    }
  }
}

/** Applies metadata to a freshly written entry; isSymlink: only owner and times apply. */
export async function applyMetadata(path: string, isSymlink: boolean, meta: EntryMetadata): Promise<void> {
  if (!isSymlink && meta.xattrs && meta.xattrs.size > 0) await writeXattrs(path, meta.xattrs);
  await lchown(path, meta.owner.uid, meta.owner.gid);
  if (!isSymlink && meta.mode !== undefined) await chmod(path, meta.mode & 0o7777);
  await lutimes(path, meta.atime, meta.mtime);
}
