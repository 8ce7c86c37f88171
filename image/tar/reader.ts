// A streaming tar reader: yields each entry with its body as a stream; an unread body is skipped.
import { Readable } from "node:stream";
import { ArchiveError } from "../../common/errors.js";
import { ByteSource } from "./bytesource.js";
import { decodeHeader, isZeroBlock, type RawHeader } from "./decode.js";
import { parsePaxRecords, type PaxRecords } from "./pax.js";
import { BLOCK_SIZE, paddingFor, type TarEntry, type TarEntryType } from "./types.js";
import type { TarInput } from "./filesource.js";

/** Metadata members (PAX, GNU long names) are read into memory; cap them so a bad archive cannot. */
const MAX_META_SIZE = 16 * 1024 * 1024;
const BODY_CHUNK = 64 * 1024;

const ENTRY_TYPES: Record<string, TarEntryType> = {
  "0": "file",
  "\0": "file",
  "7": "file",
  "1": "hardlink",
  "2": "symlink",
  "3": "char",
  "4": "block",
  "5": "dir",
  "6": "fifo",
  D: "dir", // GNU dumpdir: a directory whose body lists its contents (skipped)
};

export interface TarMember {
  entry: TarEntry;
  body: NodeJS.ReadableStream;
  /** A regular file's whole content, read already when it is at most ReadOptions.inlineUpTo bytes. */
  data?: Buffer;
  /** Where a streamed body starts in the input (a TarFileSource's file: what a reader may copy instead of reading). */
  dataOffset?: number;
}

export interface ReadOptions {
  /** Regular files of at most this many bytes come as `data` (no stream per file: unpacking many small files). */
  inlineUpTo?: number;
}

/** Reads an archive's entries in order. A truncated or corrupt archive throws ArchiveError. */
export async function* readTar(input: TarInput, options: ReadOptions = {}): AsyncGenerator<TarMember> {
  const inlineUpTo = options.inlineUpTo ?? -1;
  const src = new ByteSource(input);
  let completed = false;
  try {
    const globalPax: PaxRecords = new Map();
    let pax: PaxRecords | undefined;
    let longName: Buffer | undefined;
    let longLink: Buffer | undefined;
    for (;;) {
      const headerOffset = src.offset;
      const block = src.readBuffered(BLOCK_SIZE) ?? (await src.read(BLOCK_SIZE));
      if (block.length === 0) throw new ArchiveError(`tar archive truncated at byte ${headerOffset}: no end-of-archive marker`);
      if (block.length < BLOCK_SIZE) throw new ArchiveError(`tar archive truncated at byte ${headerOffset}: partial header`);
      if (isZeroBlock(block)) {
        await src.skip(Number.MAX_SAFE_INTEGER); // the rest is padding; drain it so a writing process is not blocked
        completed = true;
        return;
      }
      const raw = decodeHeader(block, headerOffset);
      const flag = raw.typeflag;
      if (flag === "x" || flag === "g" || flag === "L" || flag === "K") {
        const data = await readMeta(src, raw, headerOffset);
        if (flag === "x") pax = parsePaxRecords(data, `PAX header at byte ${headerOffset}`);
        else if (flag === "g") for (const [k, v] of parsePaxRecords(data, `PAX header at byte ${headerOffset}`)) globalPax.set(k, v);
        else if (flag === "L") longName = trimNul(data);
        else longLink = trimNul(data);
        continue;
      }
      const type = ENTRY_TYPES[flag];
      if (type === undefined) {
        throw new ArchiveError(`tar header at byte ${headerOffset}: unsupported entry type ${JSON.stringify(flag)}`);
      }
      const records = pax === undefined ? globalPax : globalPax.size === 0 ? pax : new Map([...globalPax, ...pax]);
      const entry = buildEntry(raw, type, records, longName, longLink, headerOffset);
      pax = undefined;
      longName = undefined;
      longLink = undefined;
      // Header-only types carry no data whatever their size field says (as Go's reader treats them),
      // except GNU dumpdirs, whose listing we skip.
      const dataSize = type === "file" ? entry.size : flag === "D" ? entry.size : 0;
      if (flag === "D") entry.size = 0;
      if (type !== "file" && flag !== "D") {
        yield { entry, get body(): NodeJS.ReadableStream { return Readable.from([]); } }; // header only: no stream made
        continue;
      }
      if (type === "file" && dataSize <= inlineUpTo) {
        const data = src.readBuffered(dataSize) ?? (await src.read(dataSize));
        if (data.length < dataSize) throw new ArchiveError(`tar archive truncated at byte ${src.offset}: inside entry ${entry.path}`);
        yield { entry, data, get body(): NodeJS.ReadableStream { return Readable.from([data]); } };
        const padding = paddingFor(dataSize);
        if (padding > 0 && src.readBuffered(padding) === undefined) await skipExactly(src, padding, entry.path);
        continue;
      }
      const body = new EntryBody(src, type === "file" ? dataSize : 0, entry.path);
      yield { entry, body, dataOffset: src.offset };
      await body.abandon();
      const rest = type === "file" ? body.remaining : dataSize;
      await skipExactly(src, rest + paddingFor(dataSize), entry.path);
    }
  } finally {
    if (!completed) await src.close();
  }
}

async function readMeta(src: ByteSource, raw: RawHeader, offset: number): Promise<Buffer> {
  if (raw.size > MAX_META_SIZE) throw new ArchiveError(`tar header at byte ${offset}: metadata member of ${raw.size} bytes is too large`);
  const data = await src.read(raw.size);
  if (data.length < raw.size) throw new ArchiveError(`tar archive truncated at byte ${src.offset}: inside a metadata member`);
  await skipExactly(src, paddingFor(raw.size), "(metadata)");
  return data;
}

async function skipExactly(src: ByteSource, n: number, path: string): Promise<void> {
  if ((await src.skip(n)) < n) throw new ArchiveError(`tar archive truncated at byte ${src.offset}: inside entry ${path}`);
}

function trimNul(b: Buffer): Buffer {
  const nul = b.indexOf(0);
  return nul < 0 ? b : b.subarray(0, nul);
}

/** An archive path without leading "/" or "./", empty and "." components, or trailing "/". */
export function normaliseArchivePath(p: string): string {
  if (isNormalised(p)) return p; // the common case, without splitting
  return p
    .split("/")
    .filter((part) => part !== "" && part !== ".")
    .join("/");
}

function isNormalised(p: string): boolean {
  return p !== "" && p !== "." && p[0] !== "/" && p[p.length - 1] !== "/" && !p.startsWith("./") && !p.endsWith("/.") && !p.includes("//") && !p.includes("/./");
}

function buildEntry(
  raw: RawHeader,
  type: TarEntryType,
  pax: PaxRecords,
  longName: Buffer | undefined,
  longLink: Buffer | undefined,
  offset: number,
): TarEntry {
  const text = (key: string): string | undefined => pax.get(key)?.toString("utf8");
  const num = (key: string, fallback: number): number => {
    const v = text(key);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new ArchiveError(`tar header at byte ${offset}: invalid PAX ${key} ${JSON.stringify(v)}`);
    return n;
  };
  for (const key of pax.keys()) {
    if (key.startsWith("GNU.sparse.")) throw new ArchiveError(`tar header at byte ${offset}: sparse files are not supported`);
  }
  const rawName = text("path") ?? (longName ?? raw.name).toString("utf8");
  const rawLink = text("linkpath") ?? (longLink ?? raw.linkname).toString("utf8");
  // A v7-style directory: a regular file whose name ends in "/".
  const actualType: TarEntryType = type === "file" && rawName.endsWith("/") && raw.typeflag !== "7" ? "dir" : type;
  const entry: TarEntry = {
    path: normaliseArchivePath(rawName),
    type: actualType,
    mode: raw.mode & 0o7777,
    uid: num("uid", raw.uid),
    gid: num("gid", raw.gid),
    size: actualType === "file" ? num("size", raw.size) : 0,
    mtime: num("mtime", raw.mtime),
  };
  if (!Number.isSafeInteger(entry.size)) throw new ArchiveError(`tar header at byte ${offset}: invalid size`);
  const uname = text("uname") ?? raw.uname;
  const gname = text("gname") ?? raw.gname;
  if (uname !== "") entry.uname = uname;
  if (gname !== "") entry.gname = gname;
  if (actualType === "symlink") entry.linkname = rawLink;
  if (actualType === "hardlink") entry.linkname = normaliseArchivePath(rawLink);
  if (actualType === "char" || actualType === "block") {
    entry.devmajor = raw.devmajor;
    entry.devminor = raw.devminor;
  }
  const xattrs = new Map<string, Buffer>();
  for (const [key, value] of pax) {
    if (key.startsWith("SCHILY.xattr.")) xattrs.set(key.slice("SCHILY.xattr.".length), value);
  }
  if (xattrs.size > 0) entry.xattrs = xattrs;
  return entry;
}

/** The body of one entry, read from the shared source on demand. */
class EntryBody extends Readable {
  remaining: number;
  private pending: Promise<void> | undefined;
  private abandoned = false;

  constructor(private readonly src: ByteSource, size: number, private readonly path: string) {
    super({ highWaterMark: BODY_CHUNK });
    this.remaining = size;
    if (size === 0) this.push(null);
  }

  override _read(): void {
    if (this.pending !== undefined || this.abandoned) return;
    this.pending = this.pull();
  }

  // Clears `pending` before pushing: push() may call _read() again synchronously.
  private async pull(): Promise<void> {
    let chunk: Buffer | null;
    try {
      chunk = await this.src.readSome(Math.min(this.remaining, BODY_CHUNK));
    } catch (e) {
      this.pending = undefined;
      this.destroy(e instanceof Error ? e : new Error(String(e)));
      return;
    }
    this.pending = undefined;
    if (chunk === null) {
      this.destroy(new ArchiveError(`tar archive truncated at byte ${this.src.offset}: inside entry ${this.path}`));
      return;
    }
    this.remaining -= chunk.length;
    if (this.abandoned || this.destroyed) return;
    this.push(chunk);
    if (this.remaining === 0) this.push(null);
  }

  /** The reader moves on: stop serving reads and wait for one in flight. */
  async abandon(): Promise<void> {
    this.abandoned = true;
    if (this.pending !== undefined) await this.pending;
    if (this.remaining > 0 && !this.destroyed) this.destroy();
  }
}
