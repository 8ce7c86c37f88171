// Character classes as Go's unicode package defines them, so that word splitting and
// name scanning agree with BuildKit (Go) rather than with JavaScript's \s and \w.

const LATIN1_SPACES = new Set(["\t", "\n", "\v", "\f", "\r", " ", "\u0085", "\u00a0"]);
const WHITE_SPACE = /^\p{White_Space}$/u;

/** Go's unicode.IsSpace. */
export function isSpace(ch: string): boolean {
  const code = ch.codePointAt(0) ?? 0;
  if (code <= 0xff) return LATIN1_SPACES.has(ch);
  return WHITE_SPACE.test(ch);
}

/** Go's unicode.IsLetter. */
export function isLetter(ch: string): boolean {
  const code = ch.codePointAt(0) ?? 0;
  if (code < 0x80) return (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a); // ASCII: no property regex
  return /^\p{L}$/u.test(ch);
}

/** Go's unicode.IsDigit (any decimal digit, Nd). */
export function isDigit(ch: string): boolean {
  const code = ch.codePointAt(0) ?? 0;
  if (code < 0x80) return code >= 0x30 && code <= 0x39;
  return /^\p{Nd}$/u.test(ch);
}

/** strings.TrimSpace with Go's notion of space. */
export function trimSpace(s: string): string {
  return trimRightSpace(trimLeftSpace(s));
}

export function trimLeftSpace(s: string): string {
  let i = 0;
  const chars = Array.from(s);
  while (i < chars.length && isSpace(chars[i]!)) i++;
  return chars.slice(i).join("");
}

export function trimRightSpace(s: string): string {
  const chars = Array.from(s);
  let end = chars.length;
  while (end > 0 && isSpace(chars[end - 1]!)) end--;
  return chars.slice(0, end).join("");
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

/** Go's strconv.Quote: used for error messages and for BuildKit's parse-tree dump format. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0) ?? 0;
    switch (ch) {
      case '"': out += '\\"'; continue;
      case "\\": out += "\\\\"; continue;
      case "\x07": out += "\\a"; continue;
      case "\b": out += "\\b"; continue;
      case "\f": out += "\\f"; continue;
      case "\n": out += "\\n"; continue;
      case "\r": out += "\\r"; continue;
      case "\t": out += "\\t"; continue;
      case "\v": out += "\\v"; continue;
    }
    if ((code >= 0x20 && code < 0x7f) || PRINTABLE.test(ch)) out += ch; // printable ASCII without the regex
    else if (code < 0x80) out += "\\x" + code.toString(16).padStart(2, "0");
    else if (code < 0x10000) out += "\\u" + code.toString(16).padStart(4, "0");
    else out += "\\U" + code.toString(16).padStart(8, "0");
  }
  return out + '"';
}
