// Which files a COPY/ADD source pattern names, inside a source root (the context or a mounted rootfs).
// As in BuildKit: a pattern is cleaned as if it started at `/`, so `../x` means `x` (it can never leave
// the root); symlinks on the way are resolved inside the root; a pattern without wildcards must name
// something, while a wildcard that matches nothing is no error (nothing is copied).
import { lstat, readdir } from "node:fs/promises";
import { posix } from "node:path";
import { ContextError, DockerfileError, errnoCode, type SourcePlace } from "../../common/errors.js";
import { resolveInRoot, resolveInsideRoot } from "../../common/rootpath.js";
import { BadPatternError, hasWildcard, matchComponent } from "./pathmatch.js";
import { isIncluded, type Visibility } from "./visibility.js";
import { withoutNonUtf8 } from "./names.js";

export type SourceFilter = (rel: string) => boolean;

/** A source pattern as a clean relative path: no leading `/` or `./`, no `..` above the root; "." for the root. */
export function cleanSourcePath(pattern: string): string {
  const rel = posix.normalize("/" + pattern).replace(/^\/+/, "").replace(/\/+$/, "");
  return rel === "" ? "." : rel;
}

/** Whether a pattern climbs above its root with `..` (BuildKit then reads it from the root). */
function leavesRoot(pattern: string): boolean {
  let depth = 0;
  for (const part of pattern.split("/")) {
    if (part === "..") depth--;
    else if (part !== "" && part !== ".") depth++;
    if (depth < 0) return true;
  }
  return false;
}

/** Whether `rel` (and what it resolves to) exists in root and is not excluded (.dockerignore). */
async function isVisible(root: string, rel: string, v: Visibility): Promise<boolean> {
  if (rel === ".") return true;
  if (v.filter && !v.filter(rel) && !v.mustDescend?.(rel)) return false;
  const resolved = (await resolveInsideRoot(root, rel, true)).slice(1);
  const host = resolved === "" ? root : posix.join(root, resolved);
  let st;
  try {
    st = await lstat(host);
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ENOENT" || code === "ENOTDIR") return false;
    throw e;
  }
  return isIncluded(host, resolved === "" ? "." : resolved, st, v);
}

/** The names in a directory of the root (symlinks resolved inside root), sorted; none if it is no directory. */
async function listDir(root: string, rel: string, v: Visibility, place: SourcePlace): Promise<string[]> {
  const host = await resolveInRoot(root, rel === "" ? "." : rel, true);
  try {
    return withoutNonUtf8((await readdir(host)).sort(), host, rel, (r) => v.filter?.(r) ?? true, place, v.filter ? "build context" : "source");
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ENOENT" || code === "ENOTDIR") return [];
    throw e;
  }
}

async function expandWildcards(root: string, rel: string, v: Visibility, place: SourcePlace): Promise<string[]> {
  let candidates = [""];
  for (const part of rel.split("/")) {
    if (!hasWildcard(part)) {
      candidates = candidates.map((c) => (c === "" ? part : `${c}/${part}`));
      continue;
    }
    const next: string[] = [];
    for (const c of candidates) {
      for (const name of await listDir(root, c, v, place)) {
        let ok: boolean;
        try {
          ok = matchComponent(part, name);
        } catch (e) {
          if (e instanceof BadPatternError) throw new DockerfileError(place, e.message);
          throw e;
        }
        if (ok) next.push(c === "" ? name : `${c}/${name}`);
      }
    }
    candidates = next;
  }
  return candidates;
}

/**
 * A wildcard match that is a symlink whose target is missing or excluded: BuildKit follows every
 * matched link and fails on such a one (`"/target": not found`) instead of skipping it.
 */
async function danglingLinkTarget(root: string, rel: string, v: Visibility): Promise<string | undefined> {
  if (v.filter && !v.filter(rel)) return undefined; // the link itself is excluded: not matched at all
  let st;
  try {
    st = await lstat(posix.join(root, (await resolveInsideRoot(root, posix.dirname(rel), true)).slice(1), posix.basename(rel)));
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ENOENT" || code === "ENOTDIR") return undefined; // a literal part after a wildcard names nothing
    throw e;
  }
  if (!st.isSymbolicLink()) return undefined;
  return resolveInsideRoot(root, rel, true);
}

/**
 * The relative paths (inside root) that the source patterns of one COPY/ADD name, in order. A path named
 * twice (literally, by two globs, or a glob and a name) is copied twice, as BuildKit does: a later copy
 * of it overwrites what came between (`COPY d1 d2 d1 /x/` ends with d1's files).
 * filter(rel) === false means excluded (.dockerignore): such a path neither matches nor counts as existing,
 * unless it is a folder that mustDescend(rel) says may hold re-included files (`!pattern`) and does.
 */
export async function matchSources(
  root: string,
  patterns: string[],
  filter: SourceFilter | undefined,
  place: SourcePlace,
  instruction: "COPY" | "ADD",
  mustDescend?: (relDir: string) => boolean,
): Promise<string[]> {
  const v: Visibility = { ...(filter ? { filter } : {}), ...(mustDescend ? { mustDescend } : {}) };
  const out: string[] = [];
  for (const pattern of patterns) {
    const rel = cleanSourcePath(pattern);
    if (!hasWildcard(rel)) {
      if (!(await isVisible(root, rel, v))) {
        throw new ContextError(
          rel,
          `${instruction} failed: file not found in build context or excluded by .dockerignore: stat ${rel}: file does not exist${leavesRoot(pattern) ? ` (${pattern} points outside the build context; a source can only come from inside it, so it was read as ${rel})` : ""}`,
          place,
        );
      }
      out.push(rel);
      continue;
    }
    for (const candidate of await expandWildcards(root, rel, v, place)) {
      if (await isVisible(root, candidate, v)) {
        out.push(candidate);
        continue;
      }
      const target = await danglingLinkTarget(root, candidate, v);
      if (target !== undefined) {
        throw new ContextError(candidate, `${instruction} failed: ${candidate} (matched by ${pattern}) is a symlink to ${target}, which is not in the ${filter ? "build context or is excluded by .dockerignore" : "source"}`, place);
      }
    }
  }
  return out;
}
