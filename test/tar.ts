// A small synchronous tar reader for the tests' image summary: walks the headers of an uncompressed tar
// file (ustar, GNU long names, PAX records) and hands each entry's content to the caller in chunks,
// so a layer is never held in memory.
import { closeSync, openSync, readSync } from "node:fs";

export type TarType = "file" | "hardlink" | "symlink" | "chr" | "blk" | "dir" | "fifo" | "other";

export interface TarEntry {
  name: string;
  type: TarType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
}

const BLOCK = 512;

/** Octal, or GNU base-256 when the first byte has its high bit set. */
function parseNumber(buf: Buffer, start: number, length: number): number {
  if ((buf[start]! & 0x80) !== 0) {
    let n = buf[start]! & 0x7f;
    for (let i = start + 1; i < start + length; i++) n = n * 256 + buf[i]!;
    return n;
  }
  const text = buf.toString("latin1", start, start + length).replace(/\0.*$/s, "").trim();
  return text === "" ? 0 : parseInt(text, 8);
}

function cString(buf: Buffer, start: number, length: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString("utf8", start, end < 0 || end > start + length ? start + length : end);
}

function typeOf(flag: string): TarType {
  switch (flag) {
    case "0": case "\0": case "7": return "file";
    case "1": return "hardlink";
    case "2": return "symlink";
    case "3": return "chr";
    case "4": return "blk";
    case "5": return "dir";
    case "6": return "fifo";
    default: return "other";
  }
}

function parsePax(text: string): Map<string, string> {
  const records = new Map<string, string>();
  let rest = Buffer.from(text, "utf8");
  while (rest.length > 0) {
    const space = rest.indexOf(0x20);
    if (space < 0) break;
    const len = parseInt(rest.toString("latin1", 0, space), 10);
    if (!(len > 0)) break;
    const record = rest.toString("utf8", space + 1, len - 1);
    const eq = record.indexOf("=");
    if (eq > 0) records.set(record.slice(0, eq), record.slice(eq + 1));
    rest = rest.subarray(len);
  }
  return records;
}

/**
 * Calls `onEntry` for every entry of the tar at `path`. `read(chunk)` passes the entry's bytes
 * (only while inside the callback); entries whose content is not read are skipped.
 */
export function walkTar(path: string, onEntry: (e: TarEntry, read: (chunk: (b: Buffer) => void) => void) => void): void {
  const fd = openSync(path, "r");
  try {
    const header = Buffer.alloc(BLOCK);
    let pos = 0;
    let longName: string | undefined;
    let longLink: string | undefined;
    let pax = new Map<string, string>();
    const readBytes = (at: number, length: number): Buffer => {
      const b = Buffer.alloc(length);
      let got = 0;
      while (got < length) {
        const n = readSync(fd, b, got, length - got, at + got);
        if (n === 0) throw new Error(`${path}: truncated tar at ${at + got}`);
        got += n;
      }
      return b;
    };
    for (;;) {
      if (readSync(fd, header, 0, BLOCK, pos) < BLOCK) return;
      if (header.every((x) => x === 0)) return;
      const flag = String.fromCharCode(header[156]!);
      let size = parseNumber(header, 124, 12);
      const dataAt = pos + BLOCK;
      if (flag === "L" || flag === "K" || flag === "x" || flag === "g") {
        const text = readBytes(dataAt, size).toString("utf8").replace(/\0+$/, "");
        if (flag === "L") longName = text;
        else if (flag === "K") longLink = text;
        else if (flag === "x") pax = parsePax(text);
        pos = dataAt + Math.ceil(size / BLOCK) * BLOCK;
        continue;
      }
      const prefix = header.toString("latin1", 257, 263).startsWith("ustar") ? cString(header, 345, 155) : "";
      let name = cString(header, 0, 100);
      if (prefix !== "") name = `${prefix}/${name}`;
      name = pax.get("path") ?? longName ?? name;
      if (pax.has("size")) size = Number(pax.get("size"));
      const entry: TarEntry = {
        name,
        type: typeOf(flag),
        mode: parseNumber(header, 100, 8),
        uid: pax.has("uid") ? Number(pax.get("uid")) : parseNumber(header, 108, 8),
        gid: pax.has("gid") ? Number(pax.get("gid")) : parseNumber(header, 116, 8),
        size,
        mtime: pax.has("mtime") ? Math.floor(Number(pax.get("mtime"))) : parseNumber(header, 136, 12),
        linkname: pax.get("linkpath") ?? longLink ?? cString(header, 157, 100),
        devmajor: parseNumber(header, 329, 8),
        devminor: parseNumber(header, 337, 8),
      };
      longName = longLink = undefined;
      pax = new Map();
      onEntry(entry, (chunk) => {
        const step = 1 << 20;
        for (let off = 0; off < size; off += step) chunk(readBytes(dataAt + off, Math.min(step, size - off)));
      });
      pos = dataAt + Math.ceil(size / BLOCK) * BLOCK;
    }
  } finally {
    closeSync(fd);
  }
}
