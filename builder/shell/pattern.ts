// Shell patterns for ${VAR#pat}, ${VAR%pat} and ${VAR/pat/repl}, converted to regular
// expressions the way BuildKit's convertShellPatternToRegex does: `?` is one character,
// `*` any run (shortest unless greedy), `\` escapes `*`, `?` and `\`; no bracket expressions.

export class PatternError extends Error {}

// Go's RE2 `.` matches any character except a newline; JS's `.` also stops at \r and
// U+2028/9, so spell the class out.
const ANY = "[^\\n]";

export function shellPatternToRegex(pattern: string, greedy: boolean, anchored: boolean): RegExp {
  const chars = Array.from(pattern);
  let out = anchored ? "^" : "";
  const star = greedy ? `${ANY}*` : `${ANY}*?`;
  for (let i = 0; i < chars.length; i++) {
    let tok = chars[i]!;
    switch (tok) {
      case "*":
        out += star;
        continue;
      case "?":
        out += ANY;
        continue;
      case "\\": {
        const peek = chars[i + 1];
        // `}` and `/` are escaped only to get them through ${}; the escape is not part of the pattern
        if (peek === "}" || peek === "/") continue;
        out += "\\";
        i++;
        tok = chars[i] ?? "";
        if (tok !== "*" && tok !== "?" && tok !== "\\") {
          throw new PatternError(`invalid escape '\\${tok}'`);
        }
        break;
      }
      case "[": case "]": case "{": case "}": case ".": case "+":
      case "(": case ")": case "|": case "^": case "$":
        out += "\\";
        break;
    }
    out += tok;
  }
  return new RegExp(out, "u");
}

/** Remove the shortest (or longest, if greedy) prefix of value matching pattern. */
export function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const m = shellPatternToRegex(pattern, greedy, true).exec(value);
  return m ? value.slice(m.index + m[0].length) : value;
}

// Reverse a pattern without reversing its escapes: a\*c -> c\*a
function reversePattern(pattern: string): string {
  const runes = Array.from(pattern);
  const out: string[] = new Array<string>(runes.length);
  const last = runes.length - 1;
  for (let i = 0; i <= last; ) {
    const tok = runes[i]!;
    const outIdx = last - i;
    if (tok === "\\" && i !== last) {
      out[outIdx - 1] = tok;
      out[outIdx] = runes[i + 1]!;
      i += 2;
    } else {
      out[outIdx] = tok;
      i++;
    }
  }
  return out.join("");
}

function reverseString(s: string): string {
  return Array.from(s).reverse().join("");
}

/** Remove the shortest (or longest) suffix: regexes find leftmost matches, so search the reversed string. */
export function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  return reverseString(trimPrefix(reversePattern(pattern), reverseString(value), greedy));
}

/** ${VAR/pat/repl} (first match) and ${VAR//pat/repl} (all matches); `*` is greedy here. */
export function replacePattern(pattern: string, value: string, replacement: string, all: boolean): string {
  const re = shellPatternToRegex(pattern, true, false);
  if (all) {
    const global = new RegExp(re.source, "gu");
    return value.replace(global, () => replacement);
  }
  const m = re.exec(value);
  if (!m) return value;
  return value.slice(0, m.index) + replacement + value.slice(m.index + m[0].length);
}
