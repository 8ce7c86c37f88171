// COPY --parents: each source keeps its parent folders below the source root, or below a pivot `/./`
// written in it, as BuildKit's frontend (dockerfile2llb convert_copy.go) and fsutil's copy do it:
// - `a/./b/c` is cut at its first `/./`: the folder `a` (its base, wildcards allowed) is copied with
//   the include pattern `b/c`; without a pivot the base is the source root and the pattern the whole
//   source (`COPY --parents x/a.txt /d/` gives /d/x/a.txt);
// - below each base, an entry matching the pattern (moby/patternmatcher, `**` across folders) is copied
//   with everything in it to the same relative path under the destination (always a folder); the
//   folders on the way are created with their source folder's owner and mode when missing;
// - a source with no wildcard at all must exist (BuildKit's RequiredPaths); a wildcard that matches
//   nothing copies nothing, and a base that exists still creates the destination folder.
import { lstat, readdir } from "node:fs/promises";
import { posix } from "node:path";
import { DockerfileError, type SourcePlace } from "../../common/errors.js";
import { resolveInsideRoot } from "../../common/rootpath.js";
import { IgnoreMatcher, IgnorePatternError, type MatchInfo } from "../../cache/ignorepatterns.js";
import { BadPatternError, hasWildcard, matchComponent } from "./pathmatch.js";
import { isIncluded, type Visibility } from "./visibility.js";
import { withoutNonUtf8 } from "./names.js";
import { matchSources } from "./match.js";
import { withExcludes } from "./exclude.js";

/** One --parents source as the frontend splits it: the folder copied, and the pattern kept below it. */
export interface ParentsSplit {
  /** Relative to the source root ("." for the root itself); may hold wildcards. */
  base: string;
  /** Relative to base, cleaned; "" names nothing. */
  pattern: string;
  /** No wildcard in either part: the path must exist. */
  required: boolean;
}

function clean(p: string): string {
  const c = posix.normalize("/" + p).replace(/^\/+/, "").replace(/\/+$/, "");
  return c === "" ? "." : c;
}

/** Splits a source at its first `/./` (the pivot); without one the base is the root. */
export function splitParentsSource(source: string): ParentsSplit {
  const at = source.indexOf("/./");
  const base = at < 0 ? "." : clean(source.slice(0, at));
  const rawPattern = at < 0 ? source : source.slice(at + 3);
  const pattern = clean(rawPattern);
  return {
    base,
    pattern: pattern === "." ? "" : pattern,
    required: !hasWildcard(base) && !hasWildcard(rawPattern),
  };
}

/**
 * Whether a folder at `dirParts` (relative to base) may hold an entry the pattern matches: each of its
 * names matches the pattern's name at the same depth, until a `**`. (Only prunes the walk: the
 * matcher decides.)
 */
export function mayHoldMatch(patternParts: readonly string[], dirParts: readonly string[]): boolean {
  for (let i = 0; i < dirParts.length; i++) {
    const p = patternParts[i];
    if (p === undefined) return false;
    if (p.includes("**")) return true;
    try {
      if (!matchComponent(p, dirParts[i] as string)) return false;
    } catch (e) {
      if (e instanceof BadPatternError) return true; // the matcher reports it
      throw e;
    }
  }
  return dirParts.length < patternParts.length;
}

/** The pattern as a matcher; a malformed one fails at the Dockerfile line. */
export function includeMatcher(pattern: string, place: SourcePlace): IgnoreMatcher {
  try {
    return new IgnoreMatcher([pattern]);
  } catch (e) {
    if (e instanceof IgnorePatternError) throw new DockerfileError(place, `COPY --parents: invalid source pattern ${JSON.stringify(pattern)}: ${e.message}`);
    throw e;
  }
}

/**
 * The entries below the folder `base` (relative to root, symlinks resolved) that the pattern matches,
 * relative to base, sorted: the first match on each branch (what is inside comes with it). Entries
 * `v` hides (.dockerignore, --exclude) neither match nor are walked; symlinks below base are not followed.
 */
export async function matchBelow(root: string, base: string, pattern: string, v: Visibility, place: SourcePlace): Promise<string[]> {
  if (pattern === "") return [];
  const matcher = includeMatcher(pattern, place);
  const parts = pattern.split("/");
  const out: string[] = [];
  const walk = async (dir: string, info: MatchInfo): Promise<void> => {
    const dirRootRel = base === "." ? dir || "." : dir === "" ? base : `${base}/${dir}`;
    const hostDir = dirRootRel === "." ? root : posix.join(root, dirRootRel);
    // one listing gives every entry's kind: no lstat per entry (a walk of a 20,000-file context)
    const entries = new Map((await readdir(hostDir, { withFileTypes: true })).map((e) => [e.name, e.isDirectory()]));
    const names = withoutNonUtf8([...entries.keys()].sort(), hostDir, dirRootRel, (r) => v.filter?.(r) ?? true, place, v.filter ? "build context" : "source");
    for (const name of names) {
      const rel = dir === "" ? name : `${dir}/${name}`;
      const rootRel = dirRootRel === "." ? name : `${dirRootRel}/${name}`;
      if (v.filter !== undefined && !v.filter(rootRel)) {
        const host = posix.join(hostDir, name); // hidden, unless a folder re-includes something below
        if (!(await isIncluded(host, rootRel, await lstat(host), v))) continue;
      }
      if (entries.get(name) !== true) {
        if (matcher.ignores(rel, info)) out.push(rel);
        continue;
      }
      const [matched, childInfo] = matcher.match(rel, info);
      if (matched) out.push(rel);
      else if (mayHoldMatch(parts, rel.split("/"))) await walk(rel, childInfo);
    }
  };
  await walk("", []);
  return out;
}

/** A --parents base after its wildcards are expanded: where it is, and what below it is copied. */
export interface ParentsSource {
  /** The base, relative to the source root, symlinks resolved ("." for the root). */
  base: string;
  /** A base that is no folder (a wildcard matched a file) is copied as a plain source. */
  isDir: boolean;
  /** Matched entries relative to base. */
  matches: string[];
}

/** Resolves a base path (a folder named through symlinks) inside the source root. */
export async function resolvedBase(root: string, base: string): Promise<{ base: string; isDir: boolean }> {
  const resolved = (await resolveInsideRoot(root, base, true)).slice(1) || ".";
  const st = await lstat(resolved === "." ? root : posix.join(root, resolved));
  return { base: resolved, isDir: st.isDirectory() };
}

/**
 * The --parents sources of one COPY, matched: each split at its pivot, a source without wildcards
 * checked to exist (as BuildKit's RequiredPaths), each base's wildcards expanded (none matching is no
 * error), and below each folder base the entries its pattern names, hidden ones (.dockerignore,
 * --exclude below the base) left out.
 */
export async function matchParents(
  root: string, sources: readonly string[], v: Visibility, exclude: IgnoreMatcher | undefined, place: SourcePlace,
): Promise<ParentsSource[]> {
  const out: ParentsSource[] = [];
  for (const source of sources) {
    const split = splitParentsSource(source);
    if (split.required) await matchSources(root, [posix.join(split.base, split.pattern)], v.filter, place, "COPY", v.mustDescend);
    for (const named of await matchSources(root, [split.base], v.filter, place, "COPY", v.mustDescend)) {
      const { base, isDir } = await resolvedBase(root, named);
      const below = exclude === undefined ? v : withExcludes(v, exclude, [base]);
      out.push({ base, isDir, matches: isDir ? await matchBelow(root, base, split.pattern, below, place) : [] });
    }
  }
  return out;
}

/** The paths (relative to the source root) a --parents copy takes. */
export function parentsPaths(sources: readonly ParentsSource[]): string[] {
  return sources.flatMap((p) => (p.isDir ? p.matches.map((m) => (p.base === "." ? m : `${p.base}/${m}`)) : [p.base]));
}

/**
 * What a --parents copy's inputs are, as digestPaths takes them: its bases, and a visibility that keeps
 * the folders on the way to each match and what is below the matches (as `below` keeps it: .dockerignore,
 * --exclude), and nothing else. One walk of each base, pruned to those folders: digesting every match as
 * a path of its own cost a lookup of each path's folders (10,000 matches: seconds).
 */
export function parentsInputs(sources: readonly ParentsSource[], below: Visibility): { paths: string[]; visibility: Required<Visibility> } {
  const matches = new Set(parentsPaths(sources)); // a base that is no folder is its own match
  const onTheWay = new Set<string>();
  for (const p of sources) if (p.isDir) onTheWay.add(p.base);
  for (const m of matches) for (let at = m.lastIndexOf("/"); at > 0; at = m.lastIndexOf("/", at - 1)) onTheWay.add(m.slice(0, at));
  const underMatch = (rel: string): boolean => {
    for (let p = rel; ; p = p.slice(0, p.lastIndexOf("/"))) {
      if (matches.has(p)) return true;
      if (!p.includes("/")) return false;
    }
  };
  return {
    paths: sources.map((p) => p.base),
    visibility: {
      filter: (rel) => onTheWay.has(rel) || (underMatch(rel) && (below.filter?.(rel) ?? true)),
      mustDescend: (rel) => onTheWay.has(rel) || (underMatch(rel) && (below.mustDescend?.(rel) ?? false)),
    },
  };
}
