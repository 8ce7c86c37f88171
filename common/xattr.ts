// Extended attributes through tsbuild's own addon (common/native.ts), always of the entry itself: a
// symlink's own attributes, never its target's (llistxattr, lgetxattr, lsetxattr).
import { native } from "./native.js";

export function listAttributesSync(path: string): string[] {
  return native().listXattrs(path);
}

/** The attribute's value, or null when the entry has none of that name. */
export function getAttributeSync(path: string, name: string): Buffer | null {
  return native().getXattr(path, name);
}

export function setAttributeSync(path: string, name: string, value: Buffer | string): void {
  native().setXattr(path, name, typeof value === "string" ? Buffer.from(value) : value);
}

// The promise forms, for callers that already await: the calls are quick system calls.
export async function listAttributes(path: string): Promise<string[]> {
  return listAttributesSync(path);
}

export async function getAttribute(path: string, name: string): Promise<Buffer | null> {
  return getAttributeSync(path, name);
}

export async function setAttribute(path: string, name: string, value: Buffer | string): Promise<void> {
  setAttributeSync(path, name, value);
}
