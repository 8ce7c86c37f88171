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

function field(block: Buffer, [off, len]: FieldRange): Buffer {
  const raw = block.subarray(off, off + len);
  const nul = raw.indexOf(0);
  return nul < 0 ? raw : raw.subarray(0, nul);
}

/** Octal (space/NUL padded) or GNU base-256 (high bit set) numbers. */
export function parseNumber(block: Buffer, range: FieldRange, what: string, where: () => string): number {
  const [off, len] = range;
  const raw = block.subarray(off, off + len);
  if (((raw[0] as number) & 0x80) !== 0) {
    if (((raw[0] as number) & 0x40) !== 0) throw new ArchiveError(`${where()}: negative ${what} in header`);
    let n = (raw[0] as number) & 0x3f;
    for (let i = 1; i < raw.length; i++) {
      n = n * 256 + (raw[i] as number);
      if (n > Number.MAX_SAFE_INTEGER) throw new ArchiveError(`${where()}: ${what} too large`);
    }
    return n;
  }
  const text = raw.toString("latin1").replace(/[\0 ]+$/, "").replace(/^[ \0]+/, "");
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) throw new ArchiveError(`${where()}: invalid ${what} field ${JSON.stringify(text)} in header`);
  return Number.parseInt(text, 8);
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
  const magic = block.subarray(F.magic[0], F.magic[0] + 6).toString("latin1");
  let name = Buffer.from(field(block, F.name));
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
    linkname: Buffer.from(field(block, F.linkname)),
    uname: field(block, F.uname).toString("utf8"),
    gname: field(block, F.gname).toString("utf8"),
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
