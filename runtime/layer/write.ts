// An overlayfs upper dir (one step's diff) → an OCI layer tar, deterministic and complete.
import { createReadStream, createWriteStream } from "node:fs";
import { lstat, readdir, readlink, rm } from "node:fs/promises";
import { join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { hashToDigest, newHash, type Digest } from "../../common/digest.js";
import { TarWriter, type TarEntry } from "../../image/tar/index.js";
import { readLayerXattrs, readXattr } from "./xattrs.js";

export const WHITEOUT_PREFIX = ".wh.";
export const OPAQUE_MARKER = ".wh..wh..opq";

/** Writes the layer tar of `upperDir` to `out` and ends it. */
export async function writeLayerTar(upperDir: string, out: NodeJS.WritableStream): Promise<void> {
  const writer = new TarWriter(out);
  await writeTree(writer, upperDir, "", new Map());
  await writer.finish();
}

/** Writes the layer tar to filePath while hashing it: the diffID and byte size. */
export async function writeLayerTarToFile(upperDir: string, filePath: string): Promise<{ diffId: Digest; size: number }> {
  const hash = newHash();
  let size = 0;
  const tee = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  const written = pipeline(tee, createWriteStream(filePath));
  try {
    await writeLayerTar(upperDir, tee);
  } catch (e) {
    tee.destroy(e instanceof Error ? e : new Error(String(e)));
    await written.catch(() => undefined); // fails because of e, which is rethrown below
    await rm(filePath, { force: true });
    throw e;
  }
  await written;
  return { diffId: hashToDigest(hash), size };
}

/** Bytewise order of UTF-8 names (what Go's sort.Strings gives BuildKit's walk). */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

function seconds(ns: bigint): number {
  return Number(ns / 1_000_000_000n); // integer seconds, as BuildKit writes them
}

/** Device numbers as glibc's major()/minor() split them. */
function deviceNumbers(rdev: bigint): { devmajor: number; devminor: number } {
  return {
    devmajor: Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn)),
    devminor: Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn)),
  };
}

/** Depth first, each directory's names sorted bytewise, a directory before its contents. */
async function writeTree(writer: TarWriter, hostDir: string, relDir: string, firstLinks: Map<string, string>): Promise<void> {
  const names = (await readdir(hostDir)).sort(byteOrder);
  for (const name of names) {
    const host = join(hostDir, name);
    const rel = relDir === "" ? name : `${relDir}/${name}`;
    const st = await lstat(host, { bigint: true });
    const base = { path: rel, mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid), size: 0, mtime: seconds(st.mtimeNs) };
    if (st.isCharacterDevice() && st.rdev === 0n) {
      // An overlay whiteout: the deletion of `name` from the lower layers.
      const wh = relDir === "" ? `${WHITEOUT_PREFIX}${name}` : `${relDir}/${WHITEOUT_PREFIX}${name}`;
      await writer.add({ ...base, path: wh, type: "file", mode: 0o600, uid: 0, gid: 0 });
    } else if (st.isDirectory()) {
      await writer.add({ ...base, type: "dir", xattrs: await readLayerXattrs(host) });
      if ((await readXattr(host, "trusted.overlay.opaque"))?.toString() === "y") {
        // BuildKit writes the marker with the directory's mode and a zero mtime.
        await writer.add({ ...base, path: `${rel}/${OPAQUE_MARKER}`, type: "file", uid: 0, gid: 0, mtime: 0 });
      }
      await writeTree(writer, host, rel, firstLinks);
    } else if (st.isFile()) {
      const inode = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1n ? firstLinks.get(inode) : undefined;
      if (first !== undefined) {
        await writer.add({ ...base, type: "hardlink", linkname: first });
        continue;
      }
      if (st.nlink > 1n) firstLinks.set(inode, rel);
      const entry: TarEntry = { ...base, type: "file", size: Number(st.size), xattrs: await readLayerXattrs(host) };
      const body = createReadStream(host);
      try {
        await writer.add(entry, body);
      } finally {
        body.destroy();
      }
    } else if (st.isSymbolicLink()) {
      await writer.add({ ...base, type: "symlink", linkname: await readlink(host), xattrs: await readLayerXattrs(host) });
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      const type = st.isCharacterDevice() ? "char" : "block";
      await writer.add({ ...base, type, ...deviceNumbers(st.rdev), xattrs: await readLayerXattrs(host) });
    } else if (st.isFIFO()) {
      await writer.add({ ...base, type: "fifo", xattrs: await readLayerXattrs(host) });
    }
    // Sockets are skipped: they cannot be carried in a layer.
  }
}
