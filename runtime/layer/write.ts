// An overlayfs upper dir (one step's diff) → an OCI layer tar, deterministic and complete.
import { createReadStream, createWriteStream, lstatSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import type { BigIntStats } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { hashToDigest, newHash, type Digest } from "../../common/digest.js";
import { getAttributeSync } from "../../common/xattr.js";
import { TarWriter, type TarEntry } from "../../image/tar/index.js";
import { readLayerXattrsSync } from "./xattrs.js";
import { DonorTar, indexPlainFiles } from "./donor.js";

export const WHITEOUT_PREFIX = ".wh.";
export const OPAQUE_MARKER = ".wh..wh..opq";

/** Files of the upper dir identical (content and metadata) to their copy in a previous layer, and that layer. */
export interface LayerReuse {
  /** The previous layer (an uncompressed tar blob). */
  donorTar: string;
  /** Paths (relative to the upper dir) of those files. */
  reused: Set<string>;
}

/** Writes the layer tar of `upperDir` to `out` and ends it; reused files' members come from reuse.donorTar. */
export async function writeLayerTar(upperDir: string, out: NodeJS.WritableStream, reuse?: LayerReuse): Promise<void> {
  const writer = new TarWriter(out);
  await writeTree(writer, upperDir, reuse);
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

/** One path of the upper dir, in tar order. */
interface Found {
  host: string;
  rel: string;
  name: string;
  relDir: string;
  /** Not looked up for a reused file (its member is copied from the previous layer). */
  st?: BigIntStats;
}

/** What an entry needs besides its stat. */
interface Prepared {
  xattrs?: Map<string, Buffer>;
  opaque?: boolean;
  linkname?: string;
  /** Contents of a small file; larger ones are streamed when written. */
  data?: Buffer;
}

/** Files up to this size are read whole; larger ones are streamed. */
const SMALL_FILE = 1 << 20;
/** The walk yields to the event loop this often (it runs synchronous calls, see writeTree). */
const YIELD_EVERY = 256;

/** Depth first, each directory's names sorted bytewise, a directory before its contents. */
function collect(hostDir: string, relDir: string, out: Found[], reused: Set<string> | undefined): void {
  const entries = readdirSync(hostDir, { withFileTypes: true }).sort((a, b) => byteOrder(a.name, b.name));
  for (const dirent of entries) {
    const name = dirent.name;
    const rel = relDir === "" ? name : `${relDir}/${name}`;
    const host = join(hostDir, name);
    if (reused !== undefined && dirent.isFile() && reused.has(rel)) {
      out.push({ host, rel, name, relDir });
      continue;
    }
    const st = lstatSync(host, { bigint: true });
    out.push({ host, rel, name, relDir, st });
    if (st.isDirectory()) collect(host, rel, out, reused);
  }
}

function prepare(f: Found & { st: BigIntStats }): Prepared {
  const { st, host } = f;
  if (st.isCharacterDevice() && st.rdev === 0n) return {};
  if (st.isDirectory()) {
    return { xattrs: readLayerXattrsSync(host), opaque: getAttributeSync(host, "trusted.overlay.opaque")?.toString() === "y" };
  }
  if (st.isSymbolicLink()) return { xattrs: readLayerXattrsSync(host), linkname: readlinkSync(host) };
  if (st.isFile()) {
    const xattrs = readLayerXattrsSync(host);
    return st.size <= BigInt(SMALL_FILE) ? { xattrs, data: readFileSync(host) } : { xattrs };
  }
  return { xattrs: readLayerXattrsSync(host) };
}

/**
 * The walk and the small reads are synchronous calls: an upper dir holds up to tens of thousands of
 * small files, and one promise per stat/listxattr/open/read/close through libuv's thread pool cost
 * several times the syscalls themselves. Large files are streamed; the loop yields now and then.
 */
async function writeTree(writer: TarWriter, upperDir: string, reuse: LayerReuse | undefined): Promise<void> {
  const found: Found[] = [];
  collect(upperDir, "", found, reuse?.reused);
  const donor = reuse === undefined ? undefined : new DonorTar(reuse.donorTar, indexPlainFiles(reuse.donorTar));
  try {
    const firstLinks = new Map<string, string>();
    for (let i = 0; i < found.length; i++) {
      const f = found[i] as Found;
      const range = f.st === undefined ? donor?.members.get(f.rel) : undefined;
      if (range !== undefined && donor !== undefined) {
        for (const chunk of donor.take(range)) await writer.addRaw(chunk);
      } else {
        for (const chunk of donor?.flush() ?? []) await writer.addRaw(chunk);
        const st = f.st ?? lstatSync(f.host, { bigint: true }); // reused, but not offered by the donor
        await writeEntry(writer, { ...f, st }, prepare({ ...f, st }), firstLinks);
      }
      if (i % YIELD_EVERY === YIELD_EVERY - 1) await new Promise((r) => setImmediate(r));
    }
    for (const chunk of donor?.flush() ?? []) await writer.addRaw(chunk);
  } finally {
    donor?.close();
  }
}

async function writeEntry(writer: TarWriter, f: Found & { st: BigIntStats }, p: Prepared, firstLinks: Map<string, string>): Promise<void> {
  const { st, rel, relDir, name, host } = f;
  const base = { path: rel, mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid), size: 0, mtime: seconds(st.mtimeNs) };
  if (st.isCharacterDevice() && st.rdev === 0n) {
    // An overlay whiteout: the deletion of `name` from the lower layers.
    const wh = relDir === "" ? `${WHITEOUT_PREFIX}${name}` : `${relDir}/${WHITEOUT_PREFIX}${name}`;
    await writer.add({ ...base, path: wh, type: "file", mode: 0o600, uid: 0, gid: 0 });
  } else if (st.isDirectory()) {
    await writer.add({ ...base, type: "dir", xattrs: p.xattrs });
    // BuildKit writes the opaque marker with the directory's mode and a zero mtime.
    if (p.opaque) await writer.add({ ...base, path: `${rel}/${OPAQUE_MARKER}`, type: "file", uid: 0, gid: 0, mtime: 0 });
  } else if (st.isFile()) {
    const inode = `${st.dev}:${st.ino}`;
    const first = st.nlink > 1n ? firstLinks.get(inode) : undefined;
    if (first !== undefined) {
      await writer.add({ ...base, type: "hardlink", linkname: first });
      return;
    }
    if (st.nlink > 1n) firstLinks.set(inode, rel);
    const entry: TarEntry = { ...base, type: "file", size: Number(st.size), xattrs: p.xattrs };
    if (p.data !== undefined) {
      await writer.add(entry, p.data);
      return;
    }
    const body = createReadStream(host);
    try {
      await writer.add(entry, body);
    } finally {
      body.destroy();
    }
  } else if (st.isSymbolicLink()) {
    await writer.add({ ...base, type: "symlink", linkname: p.linkname, xattrs: p.xattrs });
  } else if (st.isCharacterDevice() || st.isBlockDevice()) {
    const type = st.isCharacterDevice() ? "char" : "block";
    await writer.add({ ...base, type, ...deviceNumbers(st.rdev), xattrs: p.xattrs });
  } else if (st.isFIFO()) {
    await writer.add({ ...base, type: "fifo", xattrs: p.xattrs });
  }
  // Sockets are skipped: they cannot be carried in a layer.
}
