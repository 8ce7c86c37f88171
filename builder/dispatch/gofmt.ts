// Go's fmt verbs that BuildKit's history lines are made with: %q of a string (strconv.Quote) and a
// time.Duration's String(). Transcribed so the text matches byte for byte.

/** Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. */
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

const SHORT_ESCAPES: Record<number, string> = {
  0x07: "\\a", 0x08: "\\b", 0x0c: "\\f", 0x0a: "\\n", 0x0d: "\\r", 0x09: "\\t", 0x0b: "\\v",
};

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, "0");
}

function escapeRune(cp: number, quote: string): string {
  const ch = String.fromCodePoint(cp);
  if (ch === quote || ch === "\\") return `\\${ch}`;
  // printable ASCII is all letters, digits, punctuation and symbols: no Unicode-property regex needed (its
  // compilation was a millisecond of every build that writes history)
  if (cp >= 0x20 && cp < 0x7f) return ch;
  if (PRINTABLE.test(ch)) return ch;
  const short = SHORT_ESCAPES[cp];
  if (short !== undefined) return short;
  if (cp < 0x20 || cp === 0x7f) return `\\x${hex(cp, 2)}`;
  if (cp < 0x10000) return `\\u${hex(cp, 4)}`;
  return `\\U${hex(cp, 8)}`;
}

/** strconv.Quote: what `%q` prints for a string. */
export function goQuote(s: string): string {
  let out = "\"";
  for (const ch of s) out += escapeRune(ch.codePointAt(0) ?? 0xfffd, "\"");
  return `${out}"`;
}

/** `%q` of a string list: ["a" "b"]. */
export function goQuoteList(items: readonly string[]): string {
  return `[${items.map(goQuote).join(" ")}]`;
}

/** The digits of v / 10^prec with trailing zeros (and a bare point) dropped, as Go's fmtFrac. */
function withFraction(v: bigint, prec: number): string {
  const scale = 10n ** BigInt(prec);
  const frac = (v % scale).toString().padStart(prec, "0").replace(/0+$/, "");
  return `${v / scale}${frac === "" ? "" : `.${frac}`}`;
}

/** time.Duration's String(): "0s", "1.5s", "1m30s", "1h0m0s", "300ms", "2µs", "10ns". */
export function goDuration(ns: number): string {
  const sign = ns < 0 ? "-" : "";
  const u = BigInt(Math.abs(Math.trunc(ns)));
  if (u === 0n) return "0s";
  if (u < 1_000n) return `${sign}${u}ns`;
  if (u < 1_000_000n) return `${sign}${withFraction(u, 3)}µs`;
  if (u < 1_000_000_000n) return `${sign}${withFraction(u, 6)}ms`;
  const seconds = u % 60_000_000_000n;
  let minutes = u / 60_000_000_000n;
  let out = `${withFraction(seconds, 9)}s`;
  if (minutes > 0n) {
    const hours = minutes / 60n;
    minutes %= 60n;
    out = `${minutes}m${out}`;
    if (hours > 0n) out = `${hours}h${out}`;
  }
  return sign + out;
}
