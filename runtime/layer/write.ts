// An overlayfs upper dir (one step's diff) → an OCI layer tar, deterministic and complete. The walk
// takes one native call per folder (every entry's numbers and whether it has xattrs) and reads small
// files a few hundred at a time in one call; only hardlinked files, devices and fifos get an lstat each.
import { constants, createReadStream, createWriteStream, lstatSync, readFileSync, readlinkSync } from "node:fs";
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
import { errnoCode } from "../../common/errors.js";
import { LAYER_FIELDS, native } from "../../common/native.js";
import { READ_CHUNK } from "../../common/readchunk.js";

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
  const written = pipeline(tee, createWriteStream(filePath, { highWaterMark: READ_CHUNK }));
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

/**
 * What the native scan says of an entry that needs no full stat (runtime/layer/scan.ts): a folder, a
 * symlink, a whiteout, or a regular file with one link. Anything else gets a full lstat.
 */
interface PlainStat {
  type: "dir" | "symlink" | "whiteout" | "file";
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Whole seconds, as seconds() gives them. */
  mtime: number;
  /** Has an extended attribute other than overlay's own. */
  xattrs: boolean;
  /** A folder marked opaque (trusted.overlay.opaque=y). */
  opaque: boolean;
}

/** One path of the upper dir, in tar order. */
interface Found {
  host: string;
  rel: string;
  name: string;
  relDir: string;
  /** Not looked up for a reused file (its member is copied from the previous layer). */
  st?: BigIntStats;
  plain?: PlainStat;
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
/** At most this many bytes of small files are read in one native call. */
const READ_AHEAD_BYTES = 8 << 20;

const { S_IFMT, S_IFDIR, S_IFREG, S_IFLNK, S_IFCHR } = constants;

/** The plain kinds of entry the scan's numbers are enough for; undefined: lstat it. */
function plainType(mode: number, nlink: number, rdev: number): PlainStat["type"] | undefined {
  const fmt = mode & S_IFMT;
  if (fmt === S_IFDIR) return "dir";
  if (fmt === S_IFLNK) return "symlink";
  if (fmt === S_IFREG && nlink === 1) return "file";
  if (fmt === S_IFCHR && rdev === 0) return "whiteout";
  return undefined;
}

/**
 * Depth first, each directory's names sorted bytewise, a directory before its contents. One native
 * call per folder gives every entry's numbers (common/native.ts layerScanDir); entries of other kinds
 * (hardlinked files, devices, fifos) are lstat'ed.
 */
function collect(hostDir: string, relDir: string, out: Found[], reused: Set<string> | undefined): void {
  const { names, meta } = native().layerScanDir(hostDir);
  const order = names.map((_, i) => i).sort((a, b) => byteOrder(names[a] as string, names[b] as string));
  for (const i of order) {
    const name = names[i] as string;
    const m = meta.subarray(i * LAYER_FIELDS, (i + 1) * LAYER_FIELDS);
    const [mode, uid, gid, size, mtime, nlink, , , rdev, flags] = m as unknown as number[];
    const rel = relDir === "" ? name : `${relDir}/${name}`;
    const host = join(hostDir, name);
    if (reused !== undefined && (mode! & S_IFMT) === S_IFREG && reused.has(rel)) {
      out.push({ host, rel, name, relDir });
      continue;
    }
    const type = plainType(mode!, nlink!, rdev!);
    if (type === undefined) {
      out.push({ host, rel, name, relDir, st: lstatSync(host, { bigint: true }) });
      continue;
    }
    out.push({
      host, rel, name, relDir,
      plain: { type, mode: mode! & 0o7777, uid: uid!, gid: gid!, size: size!, mtime: mtime!, xattrs: (flags! & 1) !== 0, opaque: (flags! & 2) !== 0 },
    });
    if (type === "dir") collect(host, rel, out, reused);
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

/** prepare() for a plain entry; `data` is its bytes when read ahead. */
function preparePlain(f: Found & { plain: PlainStat }, data: Buffer | undefined): Prepared {
  const { plain, host } = f;
  if (plain.type === "whiteout") return {};
  const xattrs = plain.xattrs ? readLayerXattrsSync(host) : undefined;
  if (plain.type === "dir") return { xattrs, opaque: plain.opaque };
  if (plain.type === "symlink") return { xattrs, linkname: readlinkSync(host) };
  if (plain.size > SMALL_FILE) return { xattrs };
  return { xattrs, data: data ?? readFileSync(host) };
}

/**
 * The bytes of the small plain files among found[from, to), read in one native call: by index. A
 * file that changed since the scan makes the call fail; those files are then read one by one.
 */
function readAhead(found: Found[], from: number, to: number, taken: (f: Found) => boolean): Map<number, Buffer> {
  const picked: number[] = [];
  let bytes = 0;
  for (let i = from; i < to && i < found.length; i++) {
    const p = (found[i] as Found).plain;
    if (p?.type !== "file" || p.size > SMALL_FILE || taken(found[i] as Found)) continue;
    if (bytes + p.size > READ_AHEAD_BYTES) break;
    picked.push(i);
    bytes += p.size;
  }
  const out = new Map<number, Buffer>();
  if (picked.length === 0) return out;
  const sizes = Float64Array.from(picked, (i) => (found[i] as Found).plain!.size);
  let all: Buffer;
  try {
    all = native().readFilesInto(picked.map((i) => (found[i] as Found).host), sizes);
  } catch (e) {
    if (errnoCode(e) === undefined) throw e;
    return out; // read one by one, where the failure is reported as it always was
  }
  let at = 0;
  picked.forEach((i, k) => {
    const n = sizes[k] as number;
    out.set(i, all.subarray(at, at + n));
    at += n;
  });
  return out;
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
    let ahead = new Map<number, Buffer>();
    for (let i = 0; i < found.length; i++) {
      const f = found[i] as Found;
      if (i % YIELD_EVERY === 0) ahead = readAhead(found, i, i + YIELD_EVERY, (g) => g.st === undefined && g.plain === undefined);
      const range = f.st === undefined && f.plain === undefined ? donor?.members.get(f.rel) : undefined;
      if (range !== undefined && donor !== undefined) {
        for (const chunk of donor.take(range)) await writer.addRaw(chunk);
      } else {
        for (const chunk of donor?.flush() ?? []) await writer.addRaw(chunk);
        if (f.plain !== undefined) {
          await writePlainEntry(writer, { ...f, plain: f.plain }, preparePlain({ ...f, plain: f.plain }, ahead.get(i)));
        } else {
          const st = f.st ?? lstatSync(f.host, { bigint: true }); // reused, but not offered by the donor
          await writeEntry(writer, { ...f, st }, prepare({ ...f, st }), firstLinks);
        }
      }
      if (i % YIELD_EVERY === YIELD_EVERY - 1) await new Promise((r) => setImmediate(r));
    }
    for (const chunk of donor?.flush() ?? []) await writer.addRaw(chunk);
  } finally {
    donor?.close();
  }
}

/** writeEntry for a plain entry: the same members from the scan's numbers. */
async function writePlainEntry(writer: TarWriter, f: Found & { plain: PlainStat }, p: Prepared): Promise<void> {
  const { plain, rel, relDir, name, host } = f;
  const base = { path: rel, mode: plain.mode, uid: plain.uid, gid: plain.gid, size: 0, mtime: plain.mtime };
  if (plain.type === "whiteout") {
    const wh = relDir === "" ? `${WHITEOUT_PREFIX}${name}` : `${relDir}/${WHITEOUT_PREFIX}${name}`;
    await writer.add({ ...base, path: wh, type: "file", mode: 0o600, uid: 0, gid: 0 });
  } else if (plain.type === "dir") {
    await writer.add({ ...base, type: "dir", xattrs: p.xattrs });
    if (p.opaque) await writer.add({ ...base, path: `${rel}/${OPAQUE_MARKER}`, type: "file", uid: 0, gid: 0, mtime: 0 });
  } else if (plain.type === "symlink") {
    await writer.add({ ...base, type: "symlink", linkname: p.linkname, xattrs: p.xattrs });
  } else {
    await addFile(writer, { ...base, type: "file", size: plain.size, xattrs: p.xattrs }, host, p.data);
  }
}

/** A regular file's entry: its bytes read already (a small file), or streamed from the upper dir. */
async function addFile(writer: TarWriter, entry: TarEntry, host: string, data: Buffer | undefined): Promise<void> {
  if (data !== undefined) return writer.add(entry, data);
  const body = createReadStream(host, { highWaterMark: READ_CHUNK });
  try {
    await writer.add(entry, body);
  } finally {
    body.destroy();
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
    await addFile(writer, { ...base, type: "file", size: Number(st.size), xattrs: p.xattrs }, host, p.data);
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
