// .dockerignore patterns as BuildKit 0.13 applies them: a transcription of moby/patternmatcher v0.6.0
// (New, MatchesUsingParentResults, Pattern.compile/match) and of the walk rule of tonistiigi/fsutil's
// FilterFS (which ignored folders are walked into), the versions BuildKit 0.13 and buildx 0.13 carry.
// The oracle's docker 20.10 CLI sends the context with fsutil and fileutils of 2020 instead, whose
// differences are listed in testdata/oracle-differences.md.

/** A .dockerignore line patternmatcher refuses (the caller names the file). */
export class IgnorePatternError extends Error {}

type MatchType = "exact" | "prefix" | "suffix" | "regexp";

interface Pattern {
  /** Cleaned, without the `!`. */
  readonly text: string;
  readonly exclusion: boolean;
  readonly type: MatchType;
  readonly regexp?: RegExp;
}

/** What a folder's match left for its entries: per pattern, whether the folder (or a parent) matched it. */
export type MatchInfo = readonly boolean[];

/** The lines of a .dockerignore as BuildKit's ignorefile.ReadAll gives them to the matcher. */
export function readIgnoreLines(text: string): string[] {
  const out: string[] = [];
  for (const line of text.replace(/^\uFEFF/, "").split(/\r?\n/)) {
    if (line.startsWith("#")) continue; // a comment only when `#` is the very first character
    const pattern = normalizeIgnoreLine(line);
    if (pattern !== undefined) out.push(pattern);
  }
  return out;
}

/** One pattern line as ReadAll normalizes it (trimmed, cleaned, no leading `/`); undefined if blank. */
export function normalizeIgnoreLine(line: string): string | undefined {
  let pattern = line.trim();
  if (pattern === "") return undefined;
  const invert = pattern.startsWith("!");
  if (invert) pattern = pattern.slice(1).trim();
  if (pattern.length > 0) {
    pattern = cleanPath(pattern);
    if (pattern.length > 1 && pattern.startsWith("/")) pattern = pattern.slice(1);
  }
  return invert ? `!${pattern}` : pattern;
}

/** Go's filepath.Clean for `/` paths. */
export function cleanPath(p: string): string {
  if (p === "") return ".";
  const rooted = p.startsWith("/");
  const parts: string[] = [];
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (parts.length > 0 && parts[parts.length - 1] !== "..") parts.pop();
      else if (!rooted) parts.push("..");
      continue;
    }
    parts.push(part);
  }
  const joined = parts.join("/");
  return rooted ? `/${joined}` : joined === "" ? "." : joined;
}

const ESCAPED = new Set([..."().+|{}$"]);

function compile(text: string, exclusion: boolean): Pattern {
  let re = "^";
  let type: MatchType = "exact";
  const chars = [...text];
  for (let i = 0, at = 0; at < chars.length; i++) {
    const c = chars[at++] as string;
    if (c === "*") {
      if (chars[at] === "*") {
        at++;
        if (chars[at] === "/") at++; // `**/` is `**`
        if (at >= chars.length) {
          if (type === "exact") type = "prefix";
          else {
            re += ".*";
            type = "regexp";
          }
        } else {
          re += "(.*/)?";
          type = "regexp";
        }
        if (i === 0) type = "suffix";
      } else {
        re += "[^/]*";
        type = "regexp";
      }
    } else if (c === "?") {
      re += "[^/]";
      type = "regexp";
    } else if (ESCAPED.has(c)) {
      re += `\\${c}`;
    } else if (c === "\\") {
      if (at < chars.length) {
        re += `\\${chars[at++] as string}`;
        type = "regexp";
      } else {
        re += "\\\\";
      }
    } else if (c === "[" || c === "]") {
      re += c;
      type = "regexp";
    } else {
      re += c;
    }
  }
  if (type !== "regexp") return { text, exclusion, type };
  // By code point, as Go's regexp reads UTF-8 (`?` is one character, also outside the BMP); a pattern
  // the unicode mode refuses (an escaped letter) is read as Go would by the plain mode.
  let regexp: RegExp;
  try {
    regexp = new RegExp(`${re}$`, "u");
  } catch {
    try {
      regexp = new RegExp(`${re}$`);
    } catch {
      throw new IgnorePatternError(`syntax error in pattern ${text}`);
    }
  }
  return { text, exclusion, type, regexp };
}

function matches(p: Pattern, path: string): boolean {
  switch (p.type) {
    case "exact":
      return path === p.text;
    case "prefix":
      return path.startsWith(p.text.slice(0, -2));
    case "suffix": {
      const suffix = p.text.slice(2);
      return path.endsWith(suffix) || (suffix.startsWith("/") && path === suffix.slice(1));
    }
    case "regexp":
      return (p.regexp as RegExp).test(path);
  }
}

/** The pattern minus a trailing `/**` or `/*` (fsutil's patternWithoutTrailingGlob). */
function withoutTrailingGlob(text: string): string {
  let s = text.endsWith("/**") ? text.slice(0, -3) : text;
  s = s.endsWith("/*") ? s.slice(0, -2) : s;
  return s;
}

/** Go's filepath.Match syntax check: a `[` class must close and a `\` must escape something. */
function checkSyntax(text: string): void {
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\\") {
      if (i + 1 >= text.length) throw new IgnorePatternError(`syntax error in pattern ${text}`);
      i++;
    } else if (c === "[") {
      let j = i + 1;
      if (text[j] === "^") j++;
      let first = true;
      for (;; j++) {
        if (j >= text.length) throw new IgnorePatternError(`syntax error in pattern ${text}`);
        if (text[j] === "]" && !first) break;
        if (text[j] === "\\") j++;
        else if (text[j] === "-" && first) throw new IgnorePatternError(`syntax error in pattern ${text}`);
        first = false;
      }
      i = j;
    }
  }
}

export class IgnoreMatcher {
  private readonly patterns: Pattern[];
  /** Whether an ignored folder may hide a re-included entry anywhere (an exception with a wildcard). */
  private readonly wildExceptions: boolean;
  /** Exceptions without their trailing glob, and their literal part (up to a wildcard), for the walk. */
  private readonly exceptionPrefixes: string[];
  private readonly exceptionLiterals: string[];

  constructor(lines: readonly string[]) {
    this.patterns = [];
    for (const line of lines) {
      const normalized = normalizeIgnoreLine(line); // as ReadAll did, for patterns given directly
      if (normalized === undefined) continue;
      let p = cleanPath(normalized);
      const exclusion = p.startsWith("!");
      if (exclusion) {
        if (p.length === 1) throw new IgnorePatternError('illegal exclusion pattern: "!"');
        p = p.slice(1);
      }
      checkSyntax(p);
      this.patterns.push(compile(p, exclusion));
    }
    const exceptions = this.patterns.filter((p) => p.exclusion).map((p) => withoutTrailingGlob(p.text));
    this.wildExceptions = exceptions.some((p) => /[*[\]?^\\]/.test(p));
    this.exceptionPrefixes = exceptions.map((p) => `${p}/`);
    this.exceptionLiterals = this.patterns.filter((p) => p.exclusion).map((p) => {
      const wild = p.text.search(/[*?[\\]/);
      return wild < 0 ? p.text : p.text.slice(0, wild);
    });
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  get hasExceptions(): boolean {
    return this.exceptionLiterals.length > 0;
  }

  /**
   * patternmatcher's MatchesUsingParentResults: whether `path` is ignored, given its parent folder's
   * MatchInfo (empty for an entry of the root), and the MatchInfo its own entries get.
   */
  match(path: string, parent: MatchInfo): [boolean, MatchInfo] {
    const info: boolean[] = new Array<boolean>(this.patterns.length).fill(false);
    return [this.run(path, parent, info), info];
  }

  /** match()'s answer alone (an entry that is no folder needs no MatchInfo). */
  ignores(path: string, parent: MatchInfo): boolean {
    return this.run(path, parent, undefined);
  }

  private run(path: string, parent: MatchInfo, info: boolean[] | undefined): boolean {
    let matched = false;
    const withParent = parent.length > 0;
    for (let i = 0; i < this.patterns.length; i++) {
      const p = this.patterns[i] as Pattern;
      let match = withParent && parent[i] === true;
      if (!match) {
        if (p.exclusion !== matched) continue; // skipped: its result for the entries stays false
        match = matches(p, path);
        if (!match && !withParent) match = this.parentMatches(p, path);
      }
      if (info !== undefined) info[i] = match;
      if (match) matched = !p.exclusion;
    }
    return matched;
  }

  /** Without parent results: does the pattern match one of the path's parent folders? */
  private parentMatches(p: Pattern, path: string): boolean {
    const parts = path.split("/");
    for (let n = 1; n < parts.length; n++) if (matches(p, parts.slice(0, n).join("/"))) return true;
    return false;
  }

  /**
   * Whether a walk goes into the ignored folder `dir`: fsutil walks in unless no exception can reach
   * below it (with exceptions holding wildcards it walks into every ignored folder). The literal part
   * of each exception narrows that further without changing what is found: an exception whose literal
   * start lies beside `dir` can match nothing in it.
   */
  descends(dir: string): boolean {
    const slash = `${dir}/`;
    if (!this.wildExceptions) return this.exceptionPrefixes.some((p) => p.startsWith(slash));
    return this.exceptionLiterals.some((lit) => lit.startsWith(slash) || slash.startsWith(lit));
  }
}
