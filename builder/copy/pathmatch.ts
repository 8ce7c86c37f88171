// Go's filepath.Match, one path component at a time: `*` (any run of characters), `?` (one character),
// `[...]` classes with ranges and `^` negation, and `\` escaping the next character. BuildKit matches
// COPY/ADD sources with exactly these rules.

/** Thrown for a malformed pattern (Go's ErrBadPattern); the caller adds the Dockerfile place. */
export class BadPatternError extends Error {}

/** Whether a pattern has an unescaped `*`, `?` or `[` (BuildKit's containsWildcards). */
export function hasWildcard(pattern: string): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\") i++;
    else if (c === "*" || c === "?" || c === "[") return true;
  }
  return false;
}

const cache = new Map<string, RegExp>();

/** Whether one file name matches one pattern component (no `/` in either). */
export function matchComponent(pattern: string, name: string): boolean {
  let re = cache.get(pattern);
  if (re === undefined) {
    re = compile(pattern);
    cache.set(pattern, re);
  }
  return re.test(name);
}

function escapeRegExp(c: string, inClass = false): string {
  return inClass ? c.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&") : c.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");
}

function compile(pattern: string): RegExp {
  let out = "";
  const chars = [...pattern];
  let i = 0;
  while (i < chars.length) {
    const c = chars[i] as string;
    if (c === "*") {
      out += "[^/]*";
      i++;
    } else if (c === "?") {
      out += "[^/]";
      i++;
    } else if (c === "\\") {
      if (i + 1 >= chars.length) throw new BadPatternError(`syntax error in pattern ${pattern}`);
      out += escapeRegExp(chars[i + 1] as string);
      i += 2;
    } else if (c === "[") {
      const [cls, next] = compileClass(chars, i + 1, pattern);
      out += cls;
      i = next;
    } else {
      out += escapeRegExp(c);
      i++;
    }
  }
  return new RegExp(`^${out}$`, "su");
}

/** Compiles `[...]` starting after the `[`; returns the regexp class and the index after `]`. */
function compileClass(chars: string[], start: number, pattern: string): [string, number] {
  let i = start;
  let negate = false;
  if (chars[i] === "^") {
    negate = true;
    i++;
  }
  const readChar = (): string => {
    const c = chars[i];
    if (c === undefined || c === "-" || c === "]") throw new BadPatternError(`syntax error in pattern ${pattern}`);
    if (c === "\\") {
      const n = chars[i + 1];
      if (n === undefined) throw new BadPatternError(`syntax error in pattern ${pattern}`);
      i += 2;
      return n;
    }
    i++;
    return c;
  };
  let body = "";
  let first = true;
  for (;;) {
    if (chars[i] === "]" && !first) {
      i++;
      break;
    }
    first = false;
    const lo = readChar();
    let hi = lo;
    if (chars[i] === "-") {
      i++;
      hi = readChar();
      if (hi < lo) throw new BadPatternError(`syntax error in pattern ${pattern}`);
    }
    body += lo === hi ? escapeRegExp(lo, true) : `${escapeRegExp(lo, true)}-${escapeRegExp(hi, true)}`;
  }
  return [negate ? `[^/${body}]` : `[${body}]`, i];
}
