// The recorded cases hold BuildKit 0.13's history lines. Where a later BuildKit fixed a line's wording
// and tsbuild follows the fix (testdata/oracle-differences.md), the recorded line is rewritten here into
// the fixed wording before it is compared, so the replay stays exact:
// - HEALTHCHECK: 0.13 printed %q of a pointer to the config; v0.30 prints %+v of it.
// - RUN |N: 0.13 repeated an ARG declared twice; v0.18 lists it once, first position, last value.

/** Reads one Go-quoted string ("..." with strconv.Quote's escapes) at s[i]; gives it and where it ends. */
function goUnquote(s: string, i: number, quote: string): { value: string; end: number } | undefined {
  if (s[i] !== quote) return undefined;
  let out = "";
  let j = i + 1;
  const hex = (n: number): number => Number.parseInt(s.slice(j + 2, j + 2 + n), 16);
  const short: Record<string, string> = { a: "\u0007", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v", "\\": "\\", "\"": "\"", "'": "'" };
  while (j < s.length && s[j] !== quote) {
    if (s[j] !== "\\") {
      const cp = s.codePointAt(j)!;
      out += String.fromCodePoint(cp);
      j += cp > 0xffff ? 2 : 1;
      continue;
    }
    const e = s[j + 1] ?? "";
    if (short[e] !== undefined) { out += short[e]; j += 2; } else if (e === "x") { out += String.fromCodePoint(hex(2)); j += 4; } else if (e === "u") { out += String.fromCodePoint(hex(4)); j += 6; } else if (e === "U") { out += String.fromCodePoint(hex(8)); j += 10; } else return undefined;
  }
  return j < s.length ? { value: out, end: j + 1 } : undefined;
}

const HEALTHCHECK_013 = /^HEALTHCHECK &\{\[(.*)\] "([^"]*)" "([^"]*)" "([^"]*)" "([^"]*)" ('.*')\}$/;

function healthcheckLater(line: string): string {
  const m = HEALTHCHECK_013.exec(line);
  if (!m) return line;
  const test: string[] = [];
  const list = m[1]!;
  for (let i = 0; i < list.length;) {
    const q = goUnquote(list, i, "\"");
    if (!q) return line;
    test.push(q.value);
    i = q.end + (list[q.end] === " " ? 1 : 0);
  }
  const retries = goUnquote(m[6]!, 0, "'");
  if (!retries) return line;
  return `HEALTHCHECK {Test:[${test.join(" ")}] Interval:${m[2]} Timeout:${m[3]} StartPeriod:${m[4]} `
    + `StartInterval:${m[5]} Retries:${retries.value.codePointAt(0) ?? 0}}`;
}

function runArgsLater(line: string): string {
  const m = /^RUN \|(\d+) (.*)$/s.exec(line);
  if (!m) return line;
  const n = Number(m[1]);
  const words = m[2]!.split(" ");
  const items = words.slice(0, n);
  // only lines whose values hold no space can be split back into their items
  if (items.length < n || !items.every((w) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(w))) return line;
  const values = new Map<string, string>();
  for (const w of items) values.set(w.slice(0, w.indexOf("=")), w);
  if (values.size === n) return line;
  return `RUN |${values.size} ${[...values.values(), ...words.slice(n)].join(" ")}`;
}

/** A recorded BuildKit 0.13 history line in the wording of the later fixes tsbuild follows. */
export function laterReleaseHistory(createdBy: string): string {
  return runArgsLater(healthcheckLater(createdBy));
}
