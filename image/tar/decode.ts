// Decoding of one 512-byte header block (ustar, GNU and v7 layouts) into raw fields.
import { ArchiveError } from "../../common/errors.js";
import { F, computeChecksum } from "./header.js";
import { BLOCK_SIZE } from "./types.js";

export interface RawHeader {
  name: Buffer;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: Buffer;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
}

type FieldRange = readonly [number, number];

/** Where a NUL-terminated field ends (its length when it has no NUL). */
function fieldEnd(block: Buffer, [off, len]: FieldRange): number {
  let end = off;
  while (end < off + len && block[end] !== 0) end++;
  return end;
}

function field(block: Buffer, range: FieldRange): Buffer {
  return block.subarray(range[0], fieldEnd(block, range));
}

function fieldText(block: Buffer, range: FieldRange): string {
  const end = fieldEnd(block, range);
  return end === range[0] ? "" : block.toString("utf8", range[0], end);
}

/** Octal (space/NUL padded) or GNU base-256 (high bit set) numbers. */
export function parseNumber(block: Buffer, range: FieldRange, what: string, where: () => string): number {
  const [off, len] = range;
  const first = block[off] as number;
  if ((first & 0x80) !== 0) {
    if ((first & 0x40) !== 0) throw new ArchiveError(`${where()}: negative ${what} in header`);
    let n = first & 0x3f;
    for (let i = off + 1; i < off + len; i++) {
      n = n * 256 + (block[i] as number);
      if (n > Number.MAX_SAFE_INTEGER) throw new ArchiveError(`${where()}: ${what} too large`);
    }
    return n;
  }
  // octal digits between optional leading and trailing spaces/NULs (a byte loop: this runs 7 times a header)
  let start = off;
  let end = off + len;
  while (end > off && (block[end - 1] === 0 || block[end - 1] === 0x20)) end--;
  while (start < end && (block[start] === 0 || block[start] === 0x20)) start++;
  let n = 0;
  for (let i = start; i < end; i++) {
    const digit = (block[i] as number) - 0x30;
    if (digit < 0 || digit > 7) {
      throw new ArchiveError(`${where()}: invalid ${what} field ${JSON.stringify(block.toString("latin1", start, end))} in header`);
    }
    n = n * 8 + digit;
  }
  return n;
}

export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < BLOCK_SIZE; i++) if (block[i] !== 0) return false;
  return true;
}

export function decodeHeader(block: Buffer, offset: number): RawHeader {
  const where = (): string => `tar header at byte ${offset}`;
  const stored = parseNumber(block, F.chksum, "checksum", where);
  if (stored !== computeChecksum(block) && stored !== signedChecksum(block)) {
    throw new ArchiveError(`${where()}: bad checksum (corrupt or not a tar archive)`);
  }
  const magic = block.toString("latin1", F.magic[0], F.magic[0] + 6);
  let name = field(block, F.name); // views of the block: the entry's strings are made before the next read
  if (magic === "ustar\0") {
    // POSIX ustar: the name may be split into prefix + "/" + name. (GNU's "ustar " uses that room otherwise.)
    const prefix = field(block, F.prefix);
    if (prefix.length > 0) name = Buffer.concat([prefix, Buffer.from("/"), name]);
  }
  return {
    name,
    mode: parseNumber(block, F.mode, "mode", where),
    uid: parseNumber(block, F.uid, "uid", where),
    gid: parseNumber(block, F.gid, "gid", where),
    size: parseNumber(block, F.size, "size", where),
    mtime: parseNumber(block, F.mtime, "mtime", where),
    typeflag: String.fromCharCode(block[F.typeflag[0]] as number),
    linkname: field(block, F.linkname),
    uname: fieldText(block, F.uname),
    gname: fieldText(block, F.gname),
    devmajor: parseNumber(block, F.devmajor, "devmajor", where),
    devminor: parseNumber(block, F.devminor, "devminor", where),
  };
}

/** Some old writers summed signed bytes. */
function signedChecksum(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK_SIZE; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : (block[i] as number);
    sum += b > 127 ? b - 256 : b;
  }
  return sum;
}
