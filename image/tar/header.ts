// Encoding of ustar headers (with PAX extended headers where ustar cannot hold a value), laid out
// as Go's archive/tar writes them in PAX format (what BuildKit and Docker produce).
import { ArchiveError } from "../../common/errors.js";
import { BLOCK_SIZE, TYPE_FLAGS, paddingFor, type TarEntry } from "./types.js";
import { encodePaxRecords, formatPaxTime, type PaxRecords } from "./pax.js";

// Field offsets and lengths of the ustar header.
export const F = {
  name: [0, 100],
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
  chksum: [148, 8],
  typeflag: [156, 1],
  linkname: [157, 100],
  magic: [257, 6],
  version: [263, 2],
  uname: [265, 32],
  gname: [297, 32],
  devmajor: [329, 8],
  devminor: [337, 8],
  prefix: [345, 155],
} as const satisfies Record<string, readonly [number, number]>;

type Field = keyof typeof F;

/** The largest value an octal field of `len` bytes (len-1 digits and a NUL) holds. */
function octalMax(len: number): number {
  return 8 ** (len - 1) - 1;
}

function putBytes(block: Buffer, field: Field, value: Buffer): void {
  const [off, len] = F[field];
  value.copy(block, off, 0, Math.min(len, value.length));
}

function putOctal(block: Buffer, field: Field, value: number): void {
  const [off, len] = F[field];
  // digit by digit into the block (callers keep value within octalMax): a string and Buffer.write per
  // field were 15 ms of a ten-stage build's main thread, eight fields a header
  let rest = value;
  for (let i = off + len - 2; i >= off; i--) {
    block[i] = 0x30 + (rest % 8);
    rest = Math.floor(rest / 8);
  }
  block[off + len - 1] = 0;
}

/** Header fields can only hold ASCII; the full value then goes into a PAX record (Go drops the rest). */
function asciiOnly(s: string): Buffer {
  return Buffer.from(s.replace(/[^\x01-\x7f]/g, ""), "ascii");
}

function isAscii(s: string): boolean {
  return /^[\x01-\x7f]*$/.test(s);
}

export function computeChecksum(block: Buffer): number {
  let sum = 8 * 0x20; // the checksum field itself counts as spaces
  for (let i = 0; i < 148; i++) sum += block[i] as number;
  for (let i = 156; i < BLOCK_SIZE; i++) sum += block[i] as number;
  return sum;
}

function sealBlock(block: Buffer): Buffer {
  block.write("ustar\x0000", F.magic[0], 8, "ascii");
  const sum = computeChecksum(block).toString(8).padStart(6, "0");
  block.write(`${sum}\x00 `, F.chksum[0], 8, "ascii");
  return block;
}

function checkNumber(path: string, what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new ArchiveError(`tar entry ${path}: invalid ${what} ${n}`);
}

/** ASCII (as asciiOnly keeps it) and short enough for a 100-byte field: no PAX record needed. */
const PLAIN_STRING = /^[\x01-\x7f]{0,100}$/;

/**
 * encodeHeader's block for the common entry, when it needs no PAX record and nothing to check (ASCII
 * names that fit, whole in-range numbers, no xattrs, uname or device numbers): the same puts without
 * the record machinery, which was most of the cost of a 20,000-file layer's headers. Else undefined.
 */
function encodePlainHeader(entry: TarEntry, name: string): Buffer | undefined {
  const size = entry.type === "file" ? entry.size : 0;
  const { uid, gid, mtime } = entry;
  const linkname = entry.linkname ?? "";
  if ((entry.xattrs !== undefined && entry.xattrs.size > 0) || (entry.uname ?? "") !== "" || (entry.gname ?? "") !== "") return undefined;
  if ((entry.devmajor ?? 0) !== 0 || (entry.devminor ?? 0) !== 0) return undefined;
  if (!Number.isSafeInteger(uid) || uid < 0 || uid > octalMax(F.uid[1])) return undefined;
  if (!Number.isSafeInteger(gid) || gid < 0 || gid > octalMax(F.gid[1])) return undefined;
  if (!Number.isSafeInteger(size) || size < 0 || size > octalMax(F.size[1])) return undefined;
  if (!Number.isSafeInteger(mtime) || mtime < 0 || mtime > octalMax(F.mtime[1])) return undefined;
  if (!PLAIN_STRING.test(name) || !PLAIN_STRING.test(linkname)) return undefined;
  const block = Buffer.alloc(BLOCK_SIZE);
  block.write(name, F.name[0], F.name[1], "ascii");
  putOctal(block, "mode", entry.mode & 0o7777);
  putOctal(block, "uid", uid);
  putOctal(block, "gid", gid);
  putOctal(block, "size", size);
  putOctal(block, "mtime", mtime);
  block.write(TYPE_FLAGS[entry.type], F.typeflag[0], 1, "ascii");
  block.write(linkname, F.linkname[0], F.linkname[1], "ascii");
  putOctal(block, "devmajor", 0);
  putOctal(block, "devminor", 0);
  return sealBlock(block);
}

/**
 * The header block(s) of one entry: a PAX extended header ("x") when needed, then the ustar block.
 * Directories get a trailing "/" in their name, as Docker writes them.
 */
export function encodeHeader(entry: TarEntry): Buffer {
  return encodePlainHeader(entry, entry.type === "dir" ? `${entry.path}/` : entry.path) ?? encodeFullHeader(entry);
}

/** encodeHeader without its shortcut for plain entries (exported for the test that compares the two). */
export function encodeFullHeader(entry: TarEntry): Buffer {
  const name = entry.type === "dir" ? `${entry.path}/` : entry.path;
  const size = entry.type === "file" ? entry.size : 0;
  const linkname = entry.linkname ?? "";
  const uname = entry.uname ?? "";
  const gname = entry.gname ?? "";
  checkNumber(name, "size", size);
  checkNumber(name, "uid", entry.uid);
  checkNumber(name, "gid", entry.gid);
  const pax: PaxRecords = new Map();
  const needsPaxString = (s: string, len: number): boolean => !isAscii(s) || Buffer.byteLength(s) > len;
  if (needsPaxString(name, F.name[1])) pax.set("path", Buffer.from(name, "utf8"));
  if (needsPaxString(linkname, F.linkname[1])) pax.set("linkpath", Buffer.from(linkname, "utf8"));
  if (needsPaxString(uname, F.uname[1])) pax.set("uname", Buffer.from(uname, "utf8"));
  if (needsPaxString(gname, F.gname[1])) pax.set("gname", Buffer.from(gname, "utf8"));
  if (entry.uid > octalMax(F.uid[1])) pax.set("uid", Buffer.from(String(entry.uid)));
  if (entry.gid > octalMax(F.gid[1])) pax.set("gid", Buffer.from(String(entry.gid)));
  if (size > octalMax(F.size[1])) pax.set("size", Buffer.from(String(size)));
  const wholeMtime = Math.floor(entry.mtime);
  if (!Number.isFinite(entry.mtime)) throw new ArchiveError(`tar entry ${name}: invalid mtime`);
  if (wholeMtime !== entry.mtime || wholeMtime < 0 || wholeMtime > octalMax(F.mtime[1])) {
    pax.set("mtime", Buffer.from(formatPaxTime(entry.mtime)));
  }
  for (const [key, value] of entry.xattrs ?? []) pax.set(`SCHILY.xattr.${key}`, value);

  const block = Buffer.alloc(BLOCK_SIZE);
  putBytes(block, "name", asciiOnly(name));
  putOctal(block, "mode", entry.mode & 0o7777);
  putOctal(block, "uid", entry.uid > octalMax(F.uid[1]) ? 0 : entry.uid);
  putOctal(block, "gid", entry.gid > octalMax(F.gid[1]) ? 0 : entry.gid);
  putOctal(block, "size", size > octalMax(F.size[1]) ? 0 : size);
  putOctal(block, "mtime", wholeMtime < 0 || wholeMtime > octalMax(F.mtime[1]) ? 0 : wholeMtime);
  block.write(TYPE_FLAGS[entry.type], F.typeflag[0], 1, "ascii");
  putBytes(block, "linkname", asciiOnly(linkname));
  putBytes(block, "uname", asciiOnly(uname));
  putBytes(block, "gname", asciiOnly(gname));
  const devmajor = entry.devmajor ?? 0;
  const devminor = entry.devminor ?? 0;
  for (const [field, n] of [["devmajor", devmajor], ["devminor", devminor]] as const) {
    checkNumber(name, field, n);
    if (n > octalMax(F[field][1])) throw new ArchiveError(`tar entry ${name}: ${field} ${n} too large for a tar header`);
    putOctal(block, field, n);
  }
  sealBlock(block);
  if (pax.size === 0) return block;
  return Buffer.concat([paxHeaderFor(name, encodePaxRecords(pax)), block]);
}

/** The "x" member carrying PAX records for `name`: named DIR/PaxHeaders.0/BASE, as Go names it. */
function paxHeaderFor(name: string, records: Buffer): Buffer {
  // path.Join(path.Split(name)..., "PaxHeaders.0") in Go: a directory "a/b/" gives "a/b/PaxHeaders.0".
  const slash = name.lastIndexOf("/");
  const dir = name.slice(0, slash + 1);
  const base = name.slice(slash + 1);
  const paxName = `${dir}PaxHeaders.0${base === "" ? "" : `/${base}`}`;
  const block = Buffer.alloc(BLOCK_SIZE);
  putBytes(block, "name", asciiOnly(paxName).subarray(0, F.name[1]));
  putOctal(block, "mode", 0);
  putOctal(block, "uid", 0);
  putOctal(block, "gid", 0);
  putOctal(block, "size", records.length);
  putOctal(block, "mtime", 0);
  block.write("x", F.typeflag[0], 1, "ascii");
  sealBlock(block);
  return Buffer.concat([block, records, Buffer.alloc(paddingFor(records.length))]);
}
