// COPY/ADD into a mounted rootfs, file for file as BuildKit does it (each rule below was checked against
// BuildKit on dockerd 26; copy.test.ts records the answers):
// - a folder source copies its contents into the destination folder (created 0755 if missing);
// - a file source goes inside the destination when that ends with `/` or is an existing folder, else it
//   becomes the destination path; a symlink source (also one matched by a wildcard) is followed;
// - several sources are copied in turn to the same destination (no "must end with /" error in BuildKit:
//   a later file replaces an earlier one, a folder onto a file fails with "cannot copy to non-directory");
// - missing parents are created 0755, owned by the --chown owner or 0:0;
// - destination symlinks are followed inside the rootfs, never on the host.
import { createLimiter } from "../../common/limit.js";
import { lstat, lutimes, writeFile } from "node:fs/promises";
import { posix } from "node:path";
import { DockerfileError, type SourcePlace } from "../../common/errors.js";
import { resolveInsideRoot, resolveInRoot } from "../../common/rootpath.js";
import { extractArchive, probeArchive } from "./archive.js";
import { destinationIsFolder, destinationPath, ensureFolder, hostPath, lstatOrUndefined, removeExisting } from "./destination.js";
import { applyMetadata } from "./metadata.js";
import { copyFolder, copyRegularFile, copySocketAsFile } from "./tree.js";
import { withExcludes } from "./exclude.js";
import { copyKeepingParents } from "./parentscopy.js";
import type { ParentsSource } from "./parents.js";
import { finishReuse } from "./reuse.js";
import { traced } from "../../common/trace.js";
import type { CopyContext, CopyRequest, Owner } from "./types.js";

export type { CopyRequest } from "./types.js";

/** File operations in flight during one COPY (see common/limit.ts). */
const COPY_CONCURRENCY = 32;

const URL_RE = /^[a-z][a-z0-9+.-]*:\/\//i;

/** Whether an ADD source is a remote address tsbuild cannot fetch (ftp…: http(s) and git are addurl.ts's and addgit.ts's). */
export function isRemoteSource(source: string): boolean {
  return URL_RE.test(source) && !/^(https?|git|ssh|git\+ssh):\/\//i.test(source);
}

/** Rejects ADD of a remote source tsbuild cannot fetch. */
export function assertLocalSource(source: string, place: SourcePlace): void {
  if (isRemoteSource(source)) {
    throw new DockerfileError(place, `ADD ${source.slice(0, 200)}: only http(s) URLs and git repositories can be fetched: download it into the build context and ADD it from there`);
  }
}

function createdOwner(req: CopyRequest): Owner {
  return req.chown ?? { uid: 0, gid: 0 };
}

/**
 * Where a single file named `name` goes: inside the destination when it names a folder (trailing `/`,
 * or an existing folder, also through a symlink), else at the destination path itself (following a
 * final symlink, as BuildKit writes through it). Creates the folders on the way.
 */
async function fileTarget(req: CopyRequest, name: string): Promise<string> {
  const dest = destinationPath(req.dest, req.workdir);
  if (destinationIsFolder(req.dest)) {
    const folder = await ensureFolder(req.destRoot, dest, createdOwner(req), req.place);
    return hostPath(req.destRoot, posix.join(folder, name));
  }
  const resolved = await resolveInsideRoot(req.destRoot, dest, true);
  const st = await lstatOrUndefined(hostPath(req.destRoot, resolved));
  if (st?.isDirectory()) return hostPath(req.destRoot, posix.join(resolved, name));
  await ensureFolder(req.destRoot, posix.dirname(dest), createdOwner(req), req.place);
  return hostPath(req.destRoot, await resolveInsideRoot(req.destRoot, dest, true));
}

/** The copy of what lies below the source `base` (relative to the source root): --exclude applies to it. */
function belowSource(ctx: CopyContext, base: string): CopyContext {
  const { req } = ctx;
  if (req.exclude === undefined) return ctx;
  return { ...ctx, req: { ...req, ...withExcludes(req, req.exclude, [base]) } };
}

async function copySource(ctx: CopyContext, rel: string): Promise<void> {
  const { req } = ctx;
  // The source itself is followed when it is a symlink (resolved inside the source root).
  const resolvedRel = (await resolveInsideRoot(req.sourceRoot, rel, true)).slice(1) || ".";
  const src = await resolveInRoot(req.sourceRoot, rel, true);
  const st = await lstat(src);
  if (st.isDirectory()) {
    const folder = await ensureFolder(req.destRoot, destinationPath(req.dest, req.workdir), createdOwner(req), req.place, true);
    await copyFolder(belowSource(ctx, resolvedRel), src, resolvedRel, st, hostPath(req.destRoot, folder), true);
    return;
  }
  if (req.add && st.isFile()) {
    const kind = await probeArchive(src);
    if (kind !== undefined) {
      const folder = await ensureFolder(req.destRoot, destinationPath(req.dest, req.workdir), createdOwner(req), req.place, true);
      await extractArchive(src, kind, req.destRoot, folder, req.place, rel, req.chown);
      return;
    }
  }
  if (st.isSocket() && req.fromContext) {
    await copySocketAsFile(ctx, st, await fileTarget(req, posix.basename(rel)));
    return;
  }
  if (!st.isFile()) {
    throw new DockerfileError(req.place, `cannot copy ${rel}: not a regular file, folder or symlink`);
  }
  await copyRegularFile(ctx, src, st, await fileTarget(req, posix.basename(rel === "." ? "/" : rel)));
}

/**
 * COPY --parents: the matches below one base, each at its own path below the destination folder, which
 * then takes the base folder's times as a folder copy's destination does (the context's root: now).
 */
async function copyParentsSource(ctx: CopyContext, ps: ParentsSource): Promise<void> {
  const { req } = ctx;
  if (!ps.isDir) return copySource(ctx, ps.base);
  const folder = await ensureFolder(req.destRoot, destinationPath(req.dest, req.workdir), createdOwner(req), req.place, true);
  const destHost = hostPath(req.destRoot, folder);
  const below = belowSource(ctx, ps.base);
  for (const match of ps.matches) await copyKeepingParents(below, ps.base, match, destHost);
  const st = await lstat(ps.base === "." ? req.sourceRoot : posix.join(req.sourceRoot, ps.base));
  const now = new Date();
  const times = req.fromContext && ps.base === "." ? { atime: now, mtime: now } : { atime: st.atime, mtime: st.mtime };
  await lutimes(destHost, times.atime, times.mtime);
}

/** A heredoc source: 0644 (or --chmod), owned 0:0 (or --chown), named by its heredoc word. */
async function writeInline(req: CopyRequest, name: string, content: string): Promise<void> {
  const target = await fileTarget(req, name);
  const existing = await lstatOrUndefined(target);
  if (existing) await removeExisting(target);
  await writeFile(target, content, { flag: "wx", mode: 0o600 });
  const now = new Date();
  await applyMetadata(target, false, { owner: createdOwner(req), mode: req.chmod ?? 0o644, atime: now, mtime: now });
}

/** Performs one COPY/ADD into req.destRoot. */
export async function copyIntoRootfs(req: CopyRequest): Promise<void> {
  // Reuse only for one source: with several, a later one may replace a file an earlier one left for
  // linking, and the links (made at the end) would come in the wrong order.
  // Nor with --parents or --exclude (their walks are not the one reuse.ts follows).
  if (req.reuse !== undefined && (req.sources.length !== 1 || (req.inline?.length ?? 0) > 0 || req.parents !== undefined || req.exclude !== undefined)) {
    const { reuse: _unused, ...single } = req;
    return copyIntoRootfs(single);
  }
  const ctx: CopyContext = { req, links: new Map(), limit: createLimiter(COPY_CONCURRENCY), deferred: [], copies: [], folderTimes: new Map() };
  await traced("copy walk", async () => {
    for (const rel of req.sources) await copySource(ctx, rel);
    for (const ps of req.parents ?? []) await copyParentsSource(ctx, ps);
  });
  for (const { name, content } of req.inline ?? []) await writeInline(req, name, content);
  await traced("copy reused files", () => finishReuse(ctx, (src, st, target) => copyRegularFile(ctx, src, st, target)));
}
