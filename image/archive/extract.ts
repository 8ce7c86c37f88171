// Unpacks an archive (tar, possibly gzip-compressed) into a folder, never writing outside it.
import { createReadStream, createWriteStream } from "node:fs";
import { link, lstat, mkdir, rm, symlink } from "node:fs/promises";
import { basename, join, relative } from "node:path";
import { pipeline } from "node:stream/promises";
import { ArchiveError, errnoCode } from "../../common/errors.js";
import { readTar } from "../tar/index.js";
import { compressionOf, fileHead, HashTap, isZlibError } from "./stage.js";
import { TarCheckTap } from "./tarcheck.js";
import type { Digest } from "../../common/digest.js";
import { createGunzip } from "node:zlib";
import { READ_CHUNK } from "../../common/readchunk.js";

function safeRelative(path: string, file: string): string {
  const parts = path.split("/");
  if (parts.some((p) => p === "..")) throw new ArchiveError(`${file}: archive member ${path} leads outside the archive`);
  return path;
}

/**
 * The folder that will hold `rel` inside dir, created where missing. Never follows a symlink on the
 * way: a member named `l/etc/x` after a member `l -> /` would otherwise write the host's /etc/x.
 * (Only whole members are symlinks in image archives: the old docker-save layout links layer.tar
 * files, which resolveInRoot follows later inside the folder.)
 */
async function memberParent(dir: string, rel: string, member: string, file: string): Promise<string> {
  let host = dir;
  for (const part of rel.split("/").slice(0, -1)) {
    if (part === "" || part === ".") continue;
    host = join(host, part);
    let st;
    try {
      st = await lstat(host);
    } catch (e) {
      if (errnoCode(e) !== "ENOENT") throw e;
      await mkdir(host);
      continue;
    }
    if (!st.isDirectory()) throw new ArchiveError(`${file}: archive member ${member} lies under ${relative(dir, host)}, which is not a folder in the archive`);
  }
  return host;
}

/** What extraction learned of a regular file, so that a load need not read it again to check it. */
export interface ExtractedFile {
  digest: Digest;
  size: number;
  /** Why its bytes are not a whole tar (a layer's check, tarcheck.ts); undefined if they are. */
  notTar: ArchiveError | undefined;
}

/**
 * Extracts regular files, folders and links; other member types are ignored (no image needs them).
 * Each regular file is hashed and its tar structure checked as it is written: what it returns, by the
 * file's path in dir (a load used to read a 200 MB layer twice more after writing it: 0.45 of its time).
 */
export async function extractArchive(file: string, dir: string): Promise<Map<string, ExtractedFile>> {
  const files = new Map<string, ExtractedFile>();
  const head = await fileHead(file);
  if (head.length === 0) throw new ArchiveError(`${file}: empty file, not an image archive`);
  const compression = compressionOf(head);
  if (compression === "zstd") throw new ArchiveError(`${file}: zstd-compressed archives are not supported`);
  const raw = createReadStream(file, { highWaterMark: READ_CHUNK });
  const input = compression === "gzip" ? raw.pipe(createGunzip({ chunkSize: READ_CHUNK })) : raw;
  let members = 0;
  try {
    for await (const { entry, body } of readTar(input)) {
      members++;
      if (entry.path === "") continue;
      const rel = safeRelative(entry.path, file);
      const dest = join(await memberParent(dir, rel, entry.path, file), basename(rel));
      files.delete(dest); // a later member of the same name replaces the file
      switch (entry.type) {
        case "dir":
          await mkdir(dest, { recursive: true });
          break;
        case "file": {
          await rm(dest, { force: true, recursive: true });
          const hash = new HashTap();
          const tar = new TarCheckTap();
          await pipeline(body, hash, tar, createWriteStream(dest, { highWaterMark: READ_CHUNK }));
          files.set(dest, { digest: hash.digest(), size: hash.size, notTar: tar.failure });
          break;
        }
        case "symlink":
          // Followed later with resolveInRoot, so a link cannot point outside the folder.
          await rm(dest, { force: true, recursive: true });
          await symlink(entry.linkname ?? "", dest);
          break;
        case "hardlink": {
          const target = safeRelative(entry.linkname ?? "", file);
          await rm(dest, { force: true, recursive: true });
          await link(join(await memberParent(dir, target, entry.path, file), basename(target)), dest);
          break;
        }
        default:
          break;
      }
    }
  } catch (e) {
    if (isZlibError(e)) throw new ArchiveError(`${file}: corrupt gzip data (${(e as Error).message})`);
    if (e instanceof ArchiveError && members === 0) throw new ArchiveError(`${file}: not an image archive (not a tar file: ${e.message})`, { cause: e });
    if (e instanceof ArchiveError && !e.message.startsWith(file)) throw new ArchiveError(`${file}: ${e.message}`, { cause: e });
    throw e;
  } finally {
    raw.destroy();
  }
  return files;
}
