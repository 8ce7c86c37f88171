// COPY/ADD --exclude=PATTERN (repeatable): what the copy leaves out, as BuildKit does it (fsutil's copy
// with ExcludePatterns, and the same patterns in the content checksum, so a change to an excluded file
// keeps the step cached). The patterns are .dockerignore's (moby/patternmatcher: `*` within a name,
// `**` across folders, `!` re-includes, the last match decides, an entry inherits its folder's match)
// and are matched against paths relative to each matched source, never against the source itself:
// `COPY --exclude=*.txt *.txt /x/` copies every .txt file that the wildcard names, as BuildKit does
// (fsutil starts the match below the source; moby/buildkit#5489 is open about the reference's wording).
// An excluded folder is not walked unless a `!` pattern might re-include something below it; then it
// exists holding only what was re-included (fsutil's lazily created parent folders).
import { DockerfileError, type SourcePlace } from "../../common/errors.js";
import { IgnoreMatcher, IgnorePatternError } from "../../cache/ignorepatterns.js";
import { resolveInsideRoot } from "../../common/rootpath.js";
import type { Visibility } from "./visibility.js";

/**
 * The --exclude patterns of one COPY/ADD as a matcher; undefined when there are none. BuildKit hands
 * them to patternmatcher as written (no .dockerignore reading, which drops a leading `/`), and paths
 * below a source have none, so a pattern starting with `/` matches nothing: it is left out, and `warn`
 * says so.
 */
export function excludeMatcher(patterns: readonly string[], place: SourcePlace, warn?: (message: string) => void): IgnoreMatcher | undefined {
  const usable = patterns.filter((p) => {
    const rooted = /^!?\//.test(p.trim());
    if (rooted) warn?.(`--exclude=${p} matches nothing, as in BuildKit: patterns are matched below each source, and its paths do not start with /; write ${p.trim().replace(/^(!?)\/+/, "$1")}`);
    return !rooted;
  });
  if (usable.length === 0) return undefined;
  try {
    const matcher = new IgnoreMatcher(usable);
    return matcher.empty ? undefined : matcher;
  } catch (e) {
    if (e instanceof IgnorePatternError) throw new DockerfileError(place, `invalid --exclude pattern: ${e.message}`);
    throw e;
  }
}

/** `rel` relative to `base` (both relative to the source root, "." for it); undefined if not below base. */
export function below(base: string, rel: string): string | undefined {
  if (base === "." || base === "") return rel === "." || rel === "" ? undefined : rel;
  return rel.startsWith(`${base}/`) ? rel.slice(base.length + 1) : undefined;
}

/**
 * Whether the root-relative path `rel` is excluded: it lies below one of the copied sources `bases` and
 * every such source excludes it (a path two overlapping sources reach counts when either copies it,
 * which is what a cache key must cover).
 */
export function excludedBelow(matcher: IgnoreMatcher, bases: readonly string[], rel: string): boolean {
  let inside = false;
  for (const base of bases) {
    const sub = below(base, rel);
    if (sub === undefined) continue;
    inside = true;
    if (!matcher.ignores(sub, [])) return false;
  }
  return inside;
}

/**
 * The visibility of root-relative paths for a copy of the sources `bases`: what `v` (.dockerignore)
 * keeps, minus what the patterns exclude below a source; an excluded folder is still looked into when
 * a `!` pattern may re-include something below it.
 */
export function withExcludes(v: Visibility, matcher: IgnoreMatcher, bases: readonly string[]): Required<Visibility> {
  const kept = (rel: string): boolean => v.filter === undefined || v.filter(rel);
  return {
    filter: (rel) => kept(rel) && !excludedBelow(matcher, bases, rel),
    mustDescend: (rel) => (kept(rel) || (v.mustDescend?.(rel) ?? false))
      && (matcher.hasExceptions || !excludedBelow(matcher, bases, rel)),
  };
}

/** The matched sources as the copy walks them: symlinks followed inside the root ("." for the root). */
export async function sourceBases(root: string, matched: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const rel of matched) {
    const resolved = (await resolveInsideRoot(root, rel, true)).slice(1) || ".";
    out.push(rel, resolved);
  }
  return out;
}
