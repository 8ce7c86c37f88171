import { lstat, mkdir, open, readdir, rm } from "node:fs/promises";
import { errnoCode } from "./errors.js";
import { basename, dirname, join } from "node:path";
import { mkdirSync, renameSync, rmSync, writeFileSync, type Stats } from "node:fs";
import { randomHex } from "./digest.js";
import { ownedName, ownerToken } from "./owner.js";
import { testPause } from "./testpause.js";

/**
 * Writes a file by writing a temporary sibling and renaming it into place: a process killed at any
 * instant leaves the old file or the new one, never a torn one. (No fsync: that guards against power
 * loss, not kills, and costs milliseconds per write on every no-op rebuild.) With `scratch` (the
 * store's tmp folder, on the same filesystem) the temporary file is made there instead, where every
 * command's sweep removes what a killed writer left; beside its target only `system check` finds it.
 */
export async function atomicWriteFile(path: string, data: string | Uint8Array, mode = 0o644, scratch?: string): Promise<void> {
  // Synchronous calls: these files are small (metadata, cache entries) and written several times a
  // step, where five thread-pool round trips cost more than the system calls themselves.
  // owner named (common/owner.ts): a dead writer's file is known as such
  const tmp = scratch === undefined ? `${path}.tmp-${ownerToken()}-${randomHex(4)}` : join(scratch, ownedName("write"));
  try {
    inFolder(tmp, () => writeFileSync(tmp, data, { mode }));
    await testPause(`atomic-write-${basename(dirname(path))}`); // test/faults.test.ts kills a build here
    inFolder(path, () => renameSync(tmp, path));
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Runs make (which creates `file`), and again after making file's folder if that was missing: the common case makes no folder. */
function inFolder(file: string, make: () => void): void {
  try {
    make();
  } catch (e) {
    if (errnoCode(e) !== "ENOENT") throw e;
    mkdirSync(dirname(file), { recursive: true });
    make();
  }
}

/**
 * Runs fn with a fresh temporary folder `<kind>-<owner>-<hex>` under parent (the store's tmp), removed
 * afterwards on every path; named by its owner so that the sweep removes it if this process is killed.
 */
export async function withTempDir<T>(parent: string, kind: string, fn: (dir: string) => Promise<T>): Promise<T> {
  await mkdir(parent, { recursive: true });
  const dir = join(parent, ownedName(kind));
  await mkdir(dir);
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The first n bytes of a file (fewer if it is shorter): enough to recognise a format by its magic. */
export async function readFileHead(path: string, n: number): Promise<Buffer> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** The names in a folder, or none if it does not exist (yet). */
export async function listDirIfExists(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return [];
    throw e;
  }
}

/** Whether something (of any type, a dangling symlink included) is at path; other errors are thrown. */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ENOENT" || code === "ENOTDIR") return false;
    throw e;
  }
}

/** lstat, or undefined when nothing is there (a missing path, or a file where a folder was expected). */
export async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw e;
  }
}
