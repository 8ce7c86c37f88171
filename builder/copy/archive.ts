// ADD of a local archive: recognised by content (a tar, plain or gzip/bzip2/xz/zstd-compressed, whatever
// its name), extracted into the destination folder. As BuildKit does it: entries keep the archive's
// modes and owners, except that --chown gives every entry its owner (BuildKit v0.23's fix: 0.13 left
// the archive's owners, testdata/oracle-differences.md; --chmod only touches the destination folder),
// the archive's own root entry is ignored, and an entry replaces whatever is at its path.
import { createReadStream, createWriteStream } from "node:fs";
import { link, mkdir, symlink, lutimes } from "node:fs/promises";
import { posix } from "node:path";
import { pipeline } from "node:stream/promises";
import { Transform, type Readable } from "node:stream";
import { ArchiveError, DockerfileError, type SourcePlace } from "../../common/errors.js";
import { readFileHead } from "../../common/fsutil.js";
import { LayerLimitCheck } from "../../common/layerlimits.js";
import { resolveInsideRoot } from "../../common/rootpath.js";
import { readTar } from "../../image/tar/index.js";
import { COMPRESSION_MAGIC_BYTES, decompressStream, detectCompression, isTarArchive, type Compression } from "../../runtime/decompress.js";
import { applyMetadata } from "./metadata.js";
import { ensureFolder, hostPath, lstatOrUndefined, removeExisting } from "./destination.js";
import type { Owner } from "./types.js";
import { READ_CHUNK } from "../../common/readchunk.js";

/** The compression of `path` if it is a tar archive (possibly compressed), else undefined. */
export async function probeArchive(path: string): Promise<Compression | undefined> {
  const kind = detectCompression(await readFileHead(path, COMPRESSION_MAGIC_BYTES));
  const parts: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of decompressStream(kind, createReadStream(path, { highWaterMark: READ_CHUNK }), path)) {
      parts.push(chunk as Buffer);
      length += (chunk as Buffer).length;
      if (length >= 512) break; // leaving the loop stops the decompressor
    }
  } catch (e) {
    if (e instanceof ArchiveError) return undefined; // e.g. gzip magic but corrupt data: a plain file
    throw e;
  }
  return isTarArchive(Buffer.concat(parts)) ? kind : undefined;
}

/**
 * Extracts the archive at host path `archive` into the folder `destFolder` (a resolved container path
 * under destRoot, which must exist). Every entry path, and every hardlink's target, is resolved with
 * the destination folder as its root, as containerd's archive.Apply does for BuildKit: a symlink the
 * archive made (`l -> ..`, `l -> /etc`) is followed inside that folder, so no entry lands outside it.
 */
export async function extractArchive(
  archive: string,
  kind: Compression,
  destRoot: string,
  destFolder: string,
  place: SourcePlace,
  shownName: string,
  chown?: Owner,
): Promise<void> {
  try {
    await extractEntries(archive, kind, destRoot, destFolder, place, shownName, chown);
  } catch (e) {
    // a corrupt or truncated archive, a bad link: said with the ADD line and the archive's name
    if (e instanceof ArchiveError) throw new DockerfileError(place, e.message.startsWith(`${shownName}: `) ? e.message : `${shownName}: ${e.message}`);
    throw e;
  }
}

/**
 * The archive's decompressed bytes, failing past the limits a layer has (common/layerlimits.ts): what
 * ADD extracts becomes part of a layer, and a small .tar.gz in a context can expand without end.
 */
function limitedContents(archive: string, kind: Compression, shownName: string): Readable {
  // counted by a stage of the pipe, not a 'data' listener: that would start the file flowing before
  // an external decompressor (bzip2, xz) is attached, and its first bytes would be lost
  const raw = createReadStream(archive, { highWaterMark: READ_CHUNK });
  let packed = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _enc, done) {
      packed += chunk.length;
      done(null, chunk);
    },
  });
  raw.on("error", (e) => counted.destroy(e));
  const plain = decompressStream(kind, raw.pipe(counted), shownName);
  const limited = new LayerLimitCheck(shownName, () => (kind === "none" ? undefined : packed));
  plain.on("error", (e) => limited.destroy(e));
  limited.on("close", () => plain.destroy());
  return plain.pipe(limited);
}

async function extractEntries(
  archive: string,
  kind: Compression,
  destRoot: string,
  destFolder: string,
  place: SourcePlace,
  shownName: string,
  chown?: Owner,
): Promise<void> {
  const folderTimes: Array<[string, number]> = [];
  const extractRoot = hostPath(destRoot, destFolder);
  const input = limitedContents(archive, kind, shownName);
  for await (const { entry, body } of readTar(input)) {
    const rel = posix.normalize("/" + entry.path).slice(1);
    if (rel === "") continue; // the archive's "./": the destination folder keeps its own metadata
    const parent = await ensureFolder(extractRoot, posix.dirname("/" + rel), { uid: 0, gid: 0 }, place);
    const target = hostPath(extractRoot, posix.join(parent, posix.basename(rel)));
    const existing = await lstatOrUndefined(target);
    if (existing && !(entry.type === "dir" && existing.isDirectory())) await removeExisting(target);
    switch (entry.type) {
      case "file":
        await pipeline(body, createWriteStream(target, { flags: "wx", mode: 0o600 }));
        break;
      case "dir":
        if (!existing?.isDirectory()) await mkdir(target);
        folderTimes.push([target, entry.mtime]);
        break;
      case "symlink":
        await symlink(entry.linkname ?? "", target);
        break;
      case "hardlink": {
        const linkRel = posix.normalize("/" + (entry.linkname ?? "")).slice(1);
        const linked = await resolveInsideRoot(extractRoot, "/" + linkRel, false);
        const linkedHost = hostPath(extractRoot, linked);
        if (!(await lstatOrUndefined(linkedHost))) {
          throw new ArchiveError(`${shownName}: hardlink ${rel} points to ${linkRel}, which is not in the archive before it`);
        }
        await link(linkedHost, target);
        continue; // shares the inode, and its metadata, with the entry it links to
      }
      default:
        throw new DockerfileError(place, `${shownName}: entry ${rel} is a ${entry.type}, which tsbuild's ADD cannot create`);
    }
    await applyMetadata(target, entry.type === "symlink", {
      owner: chown ?? { uid: entry.uid, gid: entry.gid },
      mode: entry.type === "symlink" ? undefined : entry.mode,
      atime: entry.mtime,
      mtime: entry.mtime,
      xattrs: entry.xattrs,
    });
  }
  // A folder's mtime changes as entries are added to it: set them once everything is in place.
  for (const [folder, mtime] of folderTimes.reverse()) await lutimes(folder, mtime, mtime);
}
