// An OCI layer tar (uncompressed) → an overlay-format directory: the snapshot of that layer. Two ways,
// one switch: the native helper in batches (fastapply.ts), or, with TSBUILD_FAST_UNPACK=0, the plain
// path below (a promise per file-system call; the reference fastapply.test.ts compares against).
import { createWriteStream } from "node:fs";
import { chmod, lchown, link, lstat, lutimes, mkdir, rm, symlink, utimes } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { ArchiveError, errnoCode } from "../../common/errors.js";
import { readTar, type TarEntry } from "../../image/tar/index.js";
import type { TarInput } from "../../image/tar/filesource.js";
import { applyLayerTarFast } from "./fastapply.js";
import { NodeQueue } from "./nodes.js";
import { OPAQUE_MARKER, WHITEOUT_PREFIX } from "./write.js";
import { writeXattrs } from "./xattrs.js";

/** Unpacks the layer into targetDir (created if missing; normally a fresh, empty snapshot folder). */
export function applyLayerTar(input: TarInput, targetDir: string): Promise<void> {
  return process.env.TSBUILD_FAST_UNPACK === "0" ? applyLayerTarPlain(input, targetDir) : applyLayerTarFast(input, targetDir);
}

/** applyLayerTar without the native helper. */
export async function applyLayerTarPlain(input: TarInput, targetDir: string): Promise<void> {
  await mkdir(targetDir, { recursive: true });
  const target = new SafeTarget(targetDir);
  const nodes = new NodeQueue(target.root);
  const dirTimes: Array<[string, number]> = [];
  for await (const { entry, body } of readTar(input)) {
    const parts = target.check(entry.path, entry.path);
    if (parts.length === 0) continue; // the archive's root ("./"): the snapshot folder keeps its own
    const name = parts[parts.length - 1] as string;
    const parentHost = await target.parentDir(parts);
    const hostPath = `${parentHost}/${name}`;
    if (nodes.has(parts.join("/"))) await nodes.flush();
    if (name === OPAQUE_MARKER) {
      await writeXattrs(parentHost, new Map([["trusted.overlay.opaque", Buffer.from("y")]]));
    } else if (name.startsWith(WHITEOUT_PREFIX)) {
      if (name.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) continue; // other .wh..wh. metadata (aufs): not content
      const deletedName = name.slice(WHITEOUT_PREFIX.length);
      if (deletedName === "" || deletedName === "." || deletedName === "..") {
        throw new ArchiveError(`layer tar entry ${entry.path}: invalid whiteout name`);
      }
      const deletedParts = parts.slice(0, -1).concat(deletedName);
      if (nodes.has(deletedParts.join("/"))) await nodes.flush();
      await target.replace(`${parentHost}/${deletedName}`, deletedParts);
      await nodes.add({ relPath: deletedParts.join("/"), kind: "char", major: 0, minor: 0, mode: 0, uid: 0, gid: 0, mtime: entry.mtime });
    } else if (entry.type === "dir") {
      if (!(await target.isRealDir(hostPath))) {
        await target.replace(hostPath, parts);
        await mkdir(hostPath, { mode: 0o700 });
      }
      target.markDir(parts);
      await setOwnerModeXattrs(hostPath, entry);
      dirTimes.push([hostPath, entry.mtime]);
    } else {
      await target.replace(hostPath, parts);
      await writeNonDir(entry, body, hostPath, parts, target, nodes);
    }
  }
  await nodes.flush();
  // Last: creating entries inside a directory changed its mtime. Deepest first is not needed.
  for (const [path, mtime] of dirTimes) await utimes(path, mtime, mtime);
}

async function writeNonDir(
  entry: TarEntry,
  body: NodeJS.ReadableStream,
  hostPath: string,
  parts: string[],
  target: SafeTarget,
  nodes: NodeQueue,
): Promise<void> {
  switch (entry.type) {
    case "file":
      await pipeline(body, createWriteStream(hostPath, { flags: "wx", mode: 0o600 }));
      await setOwnerModeXattrs(hostPath, entry);
      await utimes(hostPath, entry.mtime, entry.mtime);
      return;
    case "symlink":
      await symlink(entry.linkname ?? "", hostPath);
      await lchown(hostPath, entry.uid, entry.gid);
      await writeXattrs(hostPath, entry.xattrs);
      await lutimes(hostPath, entry.mtime, entry.mtime);
      return;
    case "hardlink": {
      const linkParts = target.check(entry.linkname ?? "", entry.path);
      if (linkParts.length === 0) throw new ArchiveError(`layer tar entry ${entry.path}: hardlink to the archive root`);
      const linkHost = `${await target.parentDir(linkParts, false)}/${linkParts[linkParts.length - 1] as string}`;
      if (nodes.has(linkParts.join("/"))) await nodes.flush();
      try {
        await link(linkHost, hostPath);
      } catch (e) {
        if (errnoCode(e) === "ENOENT") throw new ArchiveError(`layer tar entry ${entry.path}: hardlink target ${entry.linkname ?? ""} is not in the layer`);
        throw e;
      }
      return; // the inode already has its metadata, from the entry that created it
    }
    case "char":
    case "block":
    case "fifo":
      await nodes.add({
        relPath: parts.join("/"),
        kind: entry.type,
        major: entry.devmajor ?? 0,
        minor: entry.devminor ?? 0,
        mode: entry.mode,
        uid: entry.uid,
        gid: entry.gid,
        mtime: entry.mtime,
        xattrs: entry.xattrs,
      });
      return;
    case "dir":
      throw new Error("unreachable: directories are handled by the caller");
  }
}

/** chown before chmod (chown clears setuid) and before xattrs (chown drops security.capability). */
async function setOwnerModeXattrs(hostPath: string, entry: TarEntry): Promise<void> {
  await lchown(hostPath, entry.uid, entry.gid);
  await chmod(hostPath, entry.mode);
  await writeXattrs(hostPath, entry.xattrs);
}

/**
 * Paths inside the target directory: rejects `..`, and never follows a symlink on the way (a parent
 * that is not a real directory is an error), so no entry can write outside the target.
 */
class SafeTarget {
  /** Relative directories known to be real directories (created or checked by us). */
  private readonly knownDirs = new Set<string>([""]);

  constructor(readonly root: string) {}

  check(path: string, entryPath: string): string[] {
    const parts = path.split("/").filter((p) => p !== "" && p !== ".");
    if (parts.includes("..")) throw new ArchiveError(`layer tar entry ${entryPath}: path ${path} escapes the layer (contains "..")`);
    return parts;
  }

  /** The host path of parts' parent directory, created (0755, like Docker) where missing unless create=false. */
  async parentDir(parts: string[], create = true): Promise<string> {
    let rel = "";
    for (const part of parts.slice(0, -1)) {
      rel = rel === "" ? part : `${rel}/${part}`;
      if (this.knownDirs.has(rel)) continue;
      const host = `${this.root}/${rel}`;
      let st;
      try {
        st = await lstat(host);
      } catch (e) {
        if (errnoCode(e) !== "ENOENT" || !create) throw notADir(parts, rel, e);
        await mkdir(host, { mode: 0o755 });
        this.knownDirs.add(rel);
        continue;
      }
      if (!st.isDirectory()) throw notADir(parts, rel);
      this.knownDirs.add(rel);
    }
    return rel === "" ? this.root : `${this.root}/${rel}`;
  }

  async isRealDir(hostPath: string): Promise<boolean> {
    try {
      return (await lstat(hostPath)).isDirectory();
    } catch (e) {
      if (errnoCode(e) === "ENOENT") return false;
      throw e;
    }
  }

  markDir(parts: string[]): void {
    this.knownDirs.add(parts.join("/"));
  }

  /** Removes whatever is at hostPath (an entry replaces it); forgets directories under it. */
  async replace(hostPath: string, parts: string[]): Promise<void> {
    const rel = parts.join("/");
    if (this.knownDirs.has(rel)) {
      for (const d of this.knownDirs) if (d === rel || d.startsWith(`${rel}/`)) this.knownDirs.delete(d);
    }
    await rm(hostPath, { recursive: true, force: true });
  }
}

function notADir(parts: string[], rel: string, cause?: unknown): ArchiveError {
  return new ArchiveError(`layer tar entry ${parts.join("/")}: ${rel} is not a directory in the layer (a symlink or missing)`, { cause });
}
