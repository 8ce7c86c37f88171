import { readFile, stat } from "node:fs/promises";
import { dirname, basename, join, posix, resolve } from "node:path";
import dockerignore from "@balena/dockerignore";
import { ContextError, errnoCode } from "../common/errors.js";

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
  return makeContext(absDir, absDockerfile, ignoreFile, parseIgnoreText(text));
}

/** The non-comment, non-blank lines of a .dockerignore file. */
export function parseIgnoreText(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

/** A context from patterns directly (also used by tests and by callers with inline rules). */
export function makeContext(
  dir: string,
  dockerfilePath: string,
  ignoreFile: string | undefined,
  patterns: string[],
): BuildContext {
  // Docker matches case-sensitively on Linux (CASE.TXT does not ignore case.txt).
  // The package is CommonJS with `module.exports.default = module.exports`: `.default` is the
  // factory both for the type checker and at run time.
  const matcher = dockerignore.default({ ignorecase: false }).add(patterns);
  const hasExceptions = patterns.some((p) => p.startsWith("!"));
  const exceptionPrefixes = exceptionLiterals(patterns);
  const isIgnored = (relPath: string): boolean => {
    if (patterns.length === 0) return false; // no .dockerignore: asked for every file of the context
    const rel = normalizeRel(relPath);
    if (rel === "") return false; // the root itself is always part of the context
    return matcher.ignores(rel);
  };
  const filter = (relPath: string): boolean => !isIgnored(relPath);
  return {
    dir,
    dockerfilePath,
    ignoreFile,
    patterns,
    hasExceptions,
    isIgnored,
    filter,
    mustDescend: (relDir: string) => !isIgnored(relDir) || exceptionMayReachInto(exceptionPrefixes, relDir),
  };
}

/**
 * The literal leading part of each exception pattern (up to the first wildcard or escape), cleaned
 * the way the matcher cleans patterns.
 */
function exceptionLiterals(patterns: string[]): string[] {
  const out: string[] = [];
  for (const p of patterns) {
    if (!p.startsWith("!")) continue;
    const cleaned = normalizeRel(p.slice(1).trim());
    const wild = cleaned.search(/[*?[\\]/);
    out.push(wild < 0 ? cleaned : cleaned.slice(0, wild));
  }
  return out;
}

/**
 * Whether some exception could re-include a path below the ignored folder relDir: conservative
 * (a walk that descends needlessly is only slower), so that `node_modules` with an unrelated
 * `!keep.log` is not walked.
 */
function exceptionMayReachInto(literals: string[], relDir: string): boolean {
  const dir = normalizeRel(relDir) + "/";
  return literals.some((lit) => lit.startsWith(dir) || dir.startsWith(lit) || lit === dir.slice(0, -1));
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    if (errnoCode(e) === "ENOENT" || errnoCode(e) === "ENOTDIR") return undefined;
    throw e;
  }
}
