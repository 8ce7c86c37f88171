// Unpacks an archive (tar, possibly gzip-compressed) into a folder, never writing outside it.
import { createReadStream, createWriteStream } from "node:fs";
import { link, mkdir, rm, symlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { ArchiveError } from "../../common/errors.js";
import { readTar } from "../tar/index.js";
import { compressionOf, fileHead, isZlibError } from "./stage.js";
import { lazyZlib } from "../../common/lazymodule.js";

function safeRelative(path: string, file: string): string {
  const parts = path.split("/");
  if (parts.some((p) => p === "..")) throw new ArchiveError(`${file}: archive member ${path} leads outside the archive`);
  return path;
}

/** Extracts regular files, folders and links; other member types are ignored (no image needs them). */
export async function extractArchive(file: string, dir: string): Promise<void> {
  const head = await fileHead(file);
  if (head.length === 0) throw new ArchiveError(`${file}: empty file, not an image archive`);
  const compression = compressionOf(head);
  if (compression === "zstd") throw new ArchiveError(`${file}: zstd-compressed archives are not supported`);
  const raw = createReadStream(file);
  const input = compression === "gzip" ? raw.pipe(lazyZlib().createGunzip()) : raw;
  let members = 0;
  try {
    for await (const { entry, body } of readTar(input)) {
      members++;
      if (entry.path === "") continue;
      const rel = safeRelative(entry.path, file);
      const dest = join(dir, rel);
      await mkdir(dirname(dest), { recursive: true });
      switch (entry.type) {
        case "dir":
          await mkdir(dest, { recursive: true });
          break;
        case "file":
          await rm(dest, { force: true, recursive: true });
          await pipeline(body, createWriteStream(dest));
          break;
        case "symlink":
          // Followed later with resolveInRoot, so a link cannot point outside the folder.
          await rm(dest, { force: true, recursive: true });
          await symlink(entry.linkname ?? "", dest);
          break;
        case "hardlink":
          await rm(dest, { force: true, recursive: true });
          await link(join(dir, safeRelative(entry.linkname ?? "", file)), dest);
          break;
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
}
