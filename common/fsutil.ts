import { mkdir, open, rename, rm, mkdtemp } from "node:fs/promises";
import { dirname, join } from "node:path";
import { randomBytes } from "node:crypto";

/**
 * Writes a file by writing a temporary sibling and renaming it into place: a process killed at any
 * instant leaves the old file or the new one, never a torn one. (No fsync: that guards against power
 * loss, not kills, and costs milliseconds per write on every no-op rebuild.)
 */
export async function atomicWriteFile(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  const fh = await open(tmp, "w", mode);
  try {
    await fh.writeFile(data);
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Runs fn with a fresh temporary folder under parent, removed afterwards on every path. */
export async function withTempDir<T>(parent: string, prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  await mkdir(parent, { recursive: true });
  const dir = await mkdtemp(join(parent, prefix));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
