// COPY --parents, the copying half (parents.ts finds what): each matched entry goes to the same path
// below the destination folder as below its base. A missing folder on the way is created with its
// source folder's owner and mode (or --chown/--chmod) and times, as fsutil creates an include pattern's
// parent folders lazily; an existing one takes the source folder's mode, as fsutil's
// copyDirectoryOnly does; a non-folder in the way fails as BuildKit words it.
import { chmod, lstat, mkdir } from "node:fs/promises";
import { posix } from "node:path";
import { DockerfileError } from "../../common/errors.js";
import { lstatOrUndefined } from "./destination.js";
import { copyEntry, copyMetadata } from "./tree.js";
import type { CopyContext } from "./types.js";

/** Copies `match` (relative to the folder `base` of the source root) to destHost/match. */
export async function copyKeepingParents(ctx: CopyContext, base: string, match: string, destHost: string): Promise<void> {
  const { req } = ctx;
  const rootRel = (rel: string): string => (base === "." ? rel : `${base}/${rel}`);
  const parts = match.split("/");
  let target = destHost;
  for (let i = 0; i < parts.length; i++) {
    const rel = rootRel(parts.slice(0, i + 1).join("/"));
    const src = posix.join(req.sourceRoot, rel);
    const st = await lstat(src);
    target = posix.join(target, parts[i] as string);
    if (i === parts.length - 1) {
      await copyEntry(ctx, src, rel, st, target);
      return;
    }
    const existing = await lstatOrUndefined(target);
    if (existing === undefined) {
      await mkdir(target);
      await copyMetadata(ctx, src, st, target);
    } else if (existing.isDirectory()) {
      await chmod(target, st.mode & 0o7777);
    } else {
      throw new DockerfileError(req.place, `cannot copy to non-directory: /${posix.relative(req.destRoot, target)}`);
    }
  }
}
