import { readFile, stat } from "node:fs/promises";
import { dirname, basename, join, posix, resolve } from "node:path";
import { ContextError, errnoCode } from "../common/errors.js";
import { IgnoreMatcher, IgnorePatternError, readIgnoreLines, type MatchInfo } from "./ignorepatterns.js";

/**
 * The build context: a folder plus the .dockerignore rules that decide which of its files exist
 * for the build. Paths given to isIgnored/filter are relative to the context root, with `/`.
 */
export interface BuildContext {
  /** Absolute path of the context folder. */
  readonly dir: string;
  /** Absolute path of the Dockerfile (it may lie outside the context). */
  readonly dockerfilePath: string;
  /** The ignore file that was applied, or undefined if there was none. */
  readonly ignoreFile: string | undefined;
  /** The patterns as read (comments and blank lines dropped). */
  readonly patterns: readonly string[];
  /** True if some pattern is an exception (`!…`): an ignored folder may still hold kept files. */
  readonly hasExceptions: boolean;
  /** Docker's semantics: the last matching pattern (on the path or one of its parents) decides. */
  isIgnored(relPath: string): boolean;
  /** The opposite of isIgnored (true = kept), for the copy engine and the digests. */
  readonly filter: (relPath: string) => boolean;
  /**
   * Whether a walk must descend into this folder: it is kept, or it is ignored but an exception
   * pattern may re-include something below it.
   */
  mustDescend(relDir: string): boolean;
}

/** Normalizes a context-relative path: no leading `/` or `./`, no trailing `/`; the root is "". */
export function normalizeRel(relPath: string): string {
  const cleaned = posix.normalize("/" + relPath).slice(1);
  return cleaned.endsWith("/") ? cleaned.slice(0, -1) : cleaned;
}

export async function openContext(dir: string, dockerfilePath: string): Promise<BuildContext> {
  const absDir = resolve(dir);
  const absDockerfile = resolve(dockerfilePath); // as `-f` is given: relative to the working folder
  let st;
  try {
    st = await stat(absDir);
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw new ContextError(dir, `build context ${dir}: no such folder`);
    }
    throw e;
  }
  if (!st.isDirectory()) throw new ContextError(dir, `build context ${dir}: not a folder`);

  // BuildKit: `<Dockerfile>.dockerignore` next to the Dockerfile wins over the context's
  // .dockerignore; the two are never combined (checked against dockerd 26).
  const candidates = [
    join(dirname(absDockerfile), `${basename(absDockerfile)}.dockerignore`),
    join(absDir, ".dockerignore"),
  ];
  let ignoreFile: string | undefined;
  let text = "";
  for (const candidate of candidates) {
    const content = await readIfExists(candidate);
    if (content !== undefined) {
      ignoreFile = candidate;
      text = content;
      break;
    }
  }
  try {
    return makeContext(absDir, absDockerfile, ignoreFile, parseIgnoreText(text));
  } catch (e) {
    if (e instanceof IgnorePatternError && ignoreFile !== undefined) throw new ContextError(ignoreFile, `${ignoreFile}: ${e.message}`);
    throw e;
  }
}

/** The patterns of a .dockerignore file, as BuildKit reads them (ignorefile.ReadAll). */
export function parseIgnoreText(text: string): string[] {
  return readIgnoreLines(text);
}

/**
 * A context from patterns directly (also used by tests and by callers with inline rules). Matching
 * is BuildKit 0.13's (cache/ignorepatterns.ts): case-sensitive, the last matching pattern decides, an
 * entry inherits the patterns its folder matched, and an exception re-includes an entry of an ignored
 * folder, which then exists holding only what was re-included (builder/copy/visibility.ts).
 */
export function makeContext(
  dir: string,
  dockerfilePath: string,
  ignoreFile: string | undefined,
  patterns: string[],
): BuildContext {
  const matcher = new IgnoreMatcher(patterns);
  // Each folder's match results, for its entries (a walk asks about every entry of a folder).
  const folders = new Map<string, MatchInfo>();
  const infoOf = (rel: string): MatchInfo => {
    if (rel === "") return [];
    let info = folders.get(rel);
    if (info === undefined) {
      const slash = rel.lastIndexOf("/");
      info = matcher.match(rel, infoOf(slash < 0 ? "" : rel.slice(0, slash)))[1];
      folders.set(rel, info);
    }
    return info;
  };
  const isIgnored = (relPath: string): boolean => {
    if (matcher.empty) return false; // no .dockerignore: asked for every file of the context
    const rel = normalizeRel(relPath);
    if (rel === "") return false; // the root itself is always part of the context
    const slash = rel.lastIndexOf("/");
    return matcher.ignores(rel, infoOf(slash < 0 ? "" : rel.slice(0, slash)));
  };
  const filter = (relPath: string): boolean => !isIgnored(relPath);
  return {
    dir,
    dockerfilePath,
    ignoreFile,
    patterns,
    hasExceptions: matcher.hasExceptions,
    isIgnored,
    filter,
    mustDescend: (relDir: string) => !isIgnored(relDir) || matcher.descends(normalizeRel(relDir)),
  };
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    if (errnoCode(e) === "ENOENT" || errnoCode(e) === "ENOTDIR") return undefined;
    throw e;
  }
}
