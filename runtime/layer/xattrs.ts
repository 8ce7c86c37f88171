// Extended attributes of layer entries. common/xattr acts on a symlink itself, never on its target
// (the l* calls: checked in layer.test.ts), so symlinks are safe to pass here.
import { getAttribute, getAttributeSync, listAttributesSync, setAttribute } from "../../common/xattr.js";
import { errnoCode } from "../../common/errors.js";

/** Overlay's own bookkeeping (opaque, redirect, origin...): never part of a layer's content. */
export function isOverlayXattr(name: string): boolean {
  return name.startsWith("trusted.overlay.");
}

/** The xattrs that belong in a layer tar, or undefined if there are none (the calls are quick syscalls). */
export async function readLayerXattrs(path: string): Promise<Map<string, Buffer> | undefined> {
  return readLayerXattrsSync(path);
}

/** readLayerXattrs as a plain call: for walks of many files. */
export function readLayerXattrsSync(path: string): Map<string, Buffer> | undefined {
  let names: string[];
  try {
    names = listAttributesSync(path);
  } catch (e) {
    if (errnoCode(e) === "ENOTSUP" || errnoCode(e) === "EOPNOTSUPP") return undefined;
    throw e;
  }
  if (names.length === 0) return undefined;
  const kept = new Map<string, Buffer>();
  for (const name of names.sort()) {
    if (isOverlayXattr(name)) continue;
    const value = getAttributeSync(path, name);
    if (value !== null) kept.set(name, value);
  }
  return kept.size > 0 ? kept : undefined;
}

export async function readXattr(path: string, name: string): Promise<Buffer | null> {
  return getAttribute(path, name);
}

export async function writeXattrs(path: string, xattrs: Map<string, Buffer> | undefined): Promise<void> {
  for (const [name, value] of xattrs ?? []) await setAttribute(path, name, value);
}
