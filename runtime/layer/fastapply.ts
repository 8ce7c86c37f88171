// Unpacking a layer at disk speed: this module parses the tar and checks every name, the native helper
// (native/unpack.c) makes the entries, in batches of records on libuv's thread pool while the next
// batch is parsed. The plain path (apply.ts, TSBUILD_FAST_UNPACK=0) made five or six promise-based
// file-system calls per file on the main thread: about 1,000 small files a second. The result is the
// same tree (fastapply.test.ts compares the two): owners, modes, xattrs, times, links, devices, whiteouts.
import { mkdir } from "node:fs/promises";
import { ArchiveError } from "../../common/errors.js";
import { native, type UnpackFailure } from "../../common/native.js";
import { readTar, type TarEntry } from "../../image/tar/index.js";
import { TarFileSource, type TarInput } from "../../image/tar/filesource.js";
import { OPAQUE_MARKER, WHITEOUT_PREFIX } from "./write.js";

const OP = { file: 1, data: 2, finish: 3, dir: 4, symlink: 5, hardlink: 6, node: 7, opaque: 8, dirTime: 9, copy: 10 } as const;
const FILE_OPEN = 1;
const NODE_KIND = { char: 1, block: 2, fifo: 3 } as const;
const RECORD_HEAD = 48;
/** Files up to this size come whole from the reader and go in one record. */
const INLINE_UP_TO = 256 * 1024;
/** A batch is handed over at this many bytes or records (the next is parsed while it runs). */
const BATCH_BYTES = 4 * 1024 * 1024;
const BATCH_RECORDS = 8192;

/** What a record's failure is reported against. */
interface Place {
  entryPath: string;
  relPath: string;
  linkname?: string;
}

interface Meta {
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  major?: number;
  minor?: number;
}

const NO_META: Meta = { mode: 0, uid: 0, gid: 0, mtime: 0 };

/** Records packed as native/unpack.c reads them. The buffer is reused: unpackBatch copies it. */
class RecordBatch {
  private buf = Buffer.allocUnsafe(BATCH_BYTES + RECORD_HEAD + 8192);
  private pos = 0;
  places: Place[] = [];

  get full(): boolean {
    return this.pos >= BATCH_BYTES || this.places.length >= BATCH_RECORDS;
  }

  get empty(): boolean {
    return this.places.length === 0;
  }

  add(op: number, flags: number, meta: Meta, place: Place, link?: string, xattrs?: Map<string, Buffer>, data?: Uint8Array): void {
    let xattrBytes = 0;
    for (const [name, value] of xattrs ?? []) xattrBytes += 8 + Buffer.byteLength(name) + value.length;
    this.ensure(RECORD_HEAD + 3 * place.relPath.length + 3 * (link?.length ?? 0) + xattrBytes + (data?.length ?? 0));
    const b = this.buf;
    const head = this.pos;
    b[head] = op;
    b[head + 1] = flags;
    b.writeUInt16LE(0, head + 2);
    b.writeUInt32LE(meta.mode, head + 4);
    b.writeUInt32LE(meta.uid, head + 8);
    b.writeUInt32LE(meta.gid, head + 12);
    b.writeDoubleLE(meta.mtime, head + 16);
    b.writeUInt32LE(meta.major ?? 0, head + 24);
    b.writeUInt32LE(meta.minor ?? 0, head + 28);
    let at = head + RECORD_HEAD;
    const pathLen = b.write(place.relPath, at, "utf8");
    at += pathLen;
    const linkLen = link === undefined ? 0 : b.write(link, at, "utf8");
    at += linkLen;
    const xattrStart = at;
    for (const [name, value] of xattrs ?? []) {
      const n = b.write(name, at + 4, "utf8");
      b.writeUInt32LE(n, at);
      at += 4 + n;
      b.writeUInt32LE(value.length, at);
      b.set(value, at + 4);
      at += 4 + value.length;
    }
    const dataLen = data?.length ?? 0;
    if (data !== undefined) b.set(data, at);
    at += dataLen;
    b.writeUInt32LE(pathLen, head + 32);
    b.writeUInt32LE(linkLen, head + 36);
    b.writeUInt32LE(at - dataLen - xattrStart, head + 40);
    b.writeUInt32LE(dataLen, head + 44);
    this.pos = at;
    this.places.push(place);
  }

  /** The records so far (valid until the next add) and their places; the batch starts empty again. */
  take(): { bytes: Uint8Array; places: Place[] } {
    const out = { bytes: this.buf.subarray(0, this.pos), places: this.places };
    this.pos = 0;
    this.places = [];
    return out;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }
}

/** An archive path as the reader normalised it (no "", "." components, no leading or trailing "/"); ".." anywhere is an escape. */
function checkedPath(path: string, entryPath: string): string {
  if (path === ".." || path.startsWith("../") || path.endsWith("/..") || path.includes("/../")) {
    throw new ArchiveError(`layer tar entry ${entryPath}: path ${path} escapes the layer (contains "..")`);
  }
  if (path.includes("\0")) throw new ArchiveError(`layer tar entry ${entryPath}: a NUL character in a name`);
  return path;
}

function checkedMeta(entry: TarEntry): Meta {
  if (entry.uid > 0xffffffff || entry.gid > 0xffffffff || !Number.isInteger(entry.uid) || !Number.isInteger(entry.gid)) {
    throw new ArchiveError(`layer tar entry ${entry.path}: owner ${entry.uid}:${entry.gid} out of range`);
  }
  return { mode: entry.mode, uid: entry.uid, gid: entry.gid, mtime: entry.mtime, major: entry.devmajor, minor: entry.devminor };
}

/** A copy record's data: where the body is in the source file, and how long. */
function copyArgs(offset: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(16);
  b.writeDoubleLE(offset, 0);
  b.writeDoubleLE(length, 8);
  return b;
}

/**
 * Unpacks the layer into targetDir (created if missing; normally a fresh, empty snapshot folder). From
 * a stored blob (a TarFileSource), the bodies of large files are copied from it by the kernel, unread.
 */
export async function applyLayerTarFast(input: TarInput, targetDir: string): Promise<void> {
  await mkdir(targetDir, { recursive: true });
  const helpers = native();
  const source = input instanceof TarFileSource ? input.path : undefined;
  const handle = source === undefined ? helpers.unpackOpen(targetDir) : helpers.unpackOpen(targetDir, source);
  const batch = new RecordBatch();
  let inflight: Promise<void> | undefined;
  let failure: unknown; // a batch's failure, kept until it is awaited (a rejection must not go unhandled meanwhile)
  const settle = async (): Promise<void> => {
    if (inflight !== undefined) await inflight;
    inflight = undefined;
    if (failure !== undefined) throw failure;
  };
  const submit = async (): Promise<void> => {
    await settle();
    if (batch.empty) return;
    const { bytes, places } = batch.take();
    inflight = helpers.unpackBatch(handle, bytes).then(
      (f) => {
        if (f !== null) failure = failureError(f, places, targetDir);
      },
      (e: unknown) => {
        failure = e;
      },
    );
  };
  const dirTimes: Place[] = [];
  const dirMtimes: number[] = [];
  try {
    for await (const member of readTar(input, { inlineUpTo: INLINE_UP_TO })) {
      const entry = member.entry;
      const relPath = checkedPath(entry.path, entry.path);
      if (relPath === "") continue; // the archive's root ("./"): the snapshot folder keeps its own
      const slash = relPath.lastIndexOf("/");
      const name = relPath.slice(slash + 1);
      const place: Place = { entryPath: entry.path, relPath };
      if (name === OPAQUE_MARKER) {
        batch.add(OP.opaque, 0, NO_META, place);
      } else if (name.startsWith(WHITEOUT_PREFIX)) {
        if (name.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) continue; // other .wh..wh. metadata (aufs): not content
        const deletedName = name.slice(WHITEOUT_PREFIX.length);
        if (deletedName === "" || deletedName === "." || deletedName === "..") {
          throw new ArchiveError(`layer tar entry ${entry.path}: invalid whiteout name`);
        }
        const deleted: Place = { entryPath: entry.path, relPath: relPath.slice(0, slash + 1) + deletedName };
        batch.add(OP.node, NODE_KIND.char, { ...NO_META, mtime: entry.mtime }, deleted);
      } else {
        const meta = checkedMeta(entry);
        switch (entry.type) {
          case "dir":
            batch.add(OP.dir, 0, meta, place, undefined, entry.xattrs);
            dirTimes.push(place);
            dirMtimes.push(entry.mtime);
            break;
          case "file":
            if (member.data !== undefined) {
              batch.add(OP.file, 0, meta, place, undefined, entry.xattrs, member.data);
            } else if (source !== undefined && member.dataOffset !== undefined) {
              // the body is left unread: the reader skips it in the file, the kernel copies it
              batch.add(OP.file, FILE_OPEN, meta, place);
              batch.add(OP.copy, 0, NO_META, place, undefined, undefined, copyArgs(member.dataOffset, entry.size));
              batch.add(OP.finish, 0, meta, place, undefined, entry.xattrs);
            } else {
              batch.add(OP.file, FILE_OPEN, meta, place);
              for await (const chunk of member.body) {
                batch.add(OP.data, 0, NO_META, place, undefined, undefined, chunk as Buffer);
                if (batch.full) await submit();
              }
              batch.add(OP.finish, 0, meta, place, undefined, entry.xattrs);
            }
            break;
          case "symlink": {
            const linkname = entry.linkname ?? "";
            if (linkname.includes("\0")) throw new ArchiveError(`layer tar entry ${entry.path}: a NUL character in the link target`);
            batch.add(OP.symlink, 0, meta, place, linkname, entry.xattrs);
            break;
          }
          case "hardlink": {
            const link = checkedPath(entry.linkname ?? "", entry.path);
            if (link === "") throw new ArchiveError(`layer tar entry ${entry.path}: hardlink to the archive root`);
            batch.add(OP.hardlink, 0, meta, { ...place, linkname: link }, link);
            break;
          }
          case "char":
          case "block":
          case "fifo":
            batch.add(OP.node, NODE_KIND[entry.type], meta, place, undefined, entry.xattrs);
            break;
        }
      }
      if (batch.full) await submit();
    }
    // Last: creating entries inside a directory changed its mtime.
    for (const [i, place] of dirTimes.entries()) {
      batch.add(OP.dirTime, 0, { ...NO_META, mtime: dirMtimes[i] as number }, place);
      if (batch.full) await submit();
    }
    await submit();
    await settle();
  } finally {
    // on the way out of a failure, the batch still running is waited for (its own failure, if any,
    // is the same unpack's and secondary), so the handle is closed only once nothing uses it
    if (inflight !== undefined) await inflight;
    helpers.unpackClose(handle);
  }
}

/** The error of a failed record, worded as the plain path's. */
function failureError(f: UnpackFailure, places: Place[], root: string): Error {
  const place = places[f.index] ?? { entryPath: "?", relPath: "?" };
  if (f.kind === "notDir") {
    const path = f.inLink ? (place.linkname ?? "") : place.relPath;
    const prefix = Buffer.from(path).subarray(0, f.prefixLength).toString("utf8");
    return new ArchiveError(`layer tar entry ${path}: ${prefix} is not a directory in the layer (a symlink or missing)`);
  }
  if (f.kind === "noLinkTarget") {
    return new ArchiveError(`layer tar entry ${place.entryPath}: hardlink target ${place.linkname ?? ""} is not in the layer`);
  }
  const cause = f.error;
  const code = cause?.code ?? "EIO";
  const syscall = cause?.syscall ?? "unpack";
  const description = (cause?.message ?? "").replace(/^.*?: /, "");
  const hostPath = `${root}/${place.relPath}`;
  return Object.assign(new Error(`${code}: ${description}, ${syscall} '${hostPath}'`), { code, errno: cause?.errno, syscall, path: hostPath });
}
