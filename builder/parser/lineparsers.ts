// The per-keyword argument readers of BuildKit's line_parsers.go. They split the text after
// the keyword and flags into the values BuildKit keeps in its Next chain; variables are NOT
// expanded here (that happens per instruction, later).
import { goQuote, isSpace, trimLeftSpace } from "../shell/chars.js";

export class LineParseError extends Error {}

export interface LineArgs {
  args: string[];
  json: boolean;
}

const WHITESPACE = /[\t\v\f\r ]+/;
const NONE: LineArgs = { args: [], json: false };

/**
 * Words separated by whitespace, quotes and escapes KEPT (they are removed at expansion).
 * An escape at the very end of the text is dropped.
 */
export function parseWords(rest: string, escape: string): string[] {
  const chars = Array.from(rest);
  const words: string[] = [];
  let phase: "spaces" | "word" | "quote" = "spaces";
  let quote = "";
  let blankOK = false;
  let word = "";
  for (let pos = 0; pos <= chars.length; pos++) {
    let ch = pos < chars.length ? chars[pos]! : "";
    if (phase === "spaces") {
      if (pos === chars.length) break;
      if (isSpace(ch)) continue;
      phase = "word";
    }
    if (pos === chars.length) {
      if (blankOK || word.length > 0) words.push(word);
      break;
    }
    if (phase === "word") {
      if (isSpace(ch)) {
        phase = "spaces";
        if (blankOK || word.length > 0) words.push(word);
        word = "";
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = "quote";
      }
      if (ch === escape) {
        if (pos + 1 === chars.length) continue; // skip an escape at the end
        // unquoted: keep the escape and the next character, even a quote
        word += ch;
        pos++;
        ch = chars[pos]!;
      }
      word += ch;
      continue;
    }
    // in a quote
    if (ch === quote) phase = "word";
    // the escape character is special except within single quotes
    if (ch === escape && quote !== "'") {
      if (pos + 1 === chars.length) {
        phase = "word";
        continue;
      }
      pos++;
      word += ch;
      ch = chars[pos]!;
    }
    word += ch;
  }
  return words;
}

/** ENV and LABEL: `key value` (legacy) or `k=v k2=v2`, as (key, value, separator) triples. */
export function parseNameVal(rest: string, keyword: string, escape: string): LineArgs {
  const words = parseWords(rest, escape);
  if (words.length === 0) return NONE;
  if (!words[0]!.includes("=")) {
    const m = WHITESPACE.exec(rest);
    if (!m) throw new LineParseError(`${keyword} must have two arguments`);
    return { args: [rest.slice(0, m.index), rest.slice(m.index + m[0].length), ""], json: false };
  }
  const args: string[] = [];
  for (const word of words) {
    const eq = word.indexOf("=");
    if (eq < 0) {
      throw new LineParseError(`Syntax error - can't find = in ${goQuote(word)}. Must be of the form: name=value`);
    }
    args.push(word.slice(0, eq), word.slice(eq + 1), "=");
  }
  return { args, json: false };
}

/** ARG: `name`, `name=value`, several per line, quotes kept. */
export function parseNameOrNameVal(rest: string, escape: string): LineArgs {
  return { args: parseWords(rest, escape), json: false };
}

export function parseStringsWhitespaceDelimited(rest: string): LineArgs {
  if (rest === "") return NONE;
  return { args: rest.split(WHITESPACE), json: false };
}

/** The whole rest as one value. */
export function parseString(rest: string): LineArgs {
  if (rest === "") return NONE;
  return { args: [rest], json: false };
}

class NotJsonArray extends Error {}

// A JSON array of strings; a non-string element is an error, anything else is "not JSON".
function parseJSON(rest: string): LineArgs {
  const text = trimLeftSpace(rest);
  if (!text.startsWith("[")) throw new NotJsonArray();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    if (e instanceof SyntaxError) throw new NotJsonArray();
    throw e;
  }
  if (!Array.isArray(value)) throw new NotJsonArray();
  const args: string[] = [];
  for (const item of value) {
    if (typeof item !== "string") {
      throw new LineParseError("when using JSON array syntax, arrays must be comprised of strings only");
    }
    args.push(item);
  }
  return { args, json: true };
}

/** RUN, CMD, ENTRYPOINT, SHELL: a JSON array, or else the whole rest as one shell string. */
export function parseMaybeJSON(rest: string): LineArgs {
  if (rest === "") return NONE;
  try {
    return parseJSON(rest);
  } catch (e) {
    if (e instanceof NotJsonArray) return { args: [rest], json: false };
    throw e;
  }
}

/** COPY, ADD, VOLUME: a JSON array, or else whitespace-separated words. */
export function parseMaybeJSONToList(rest: string): LineArgs {
  try {
    return parseJSON(rest);
  } catch (e) {
    if (e instanceof NotJsonArray) return parseStringsWhitespaceDelimited(rest);
    throw e;
  }
}

/** HEALTHCHECK: a type word (`CMD`, `NONE`) then, like CMD, JSON or a shell string. */
export function parseHealthConfig(rest: string): LineArgs {
  let sep = 0;
  while (sep < rest.length && !isSpace(rest[sep]!)) sep++;
  let next = sep;
  while (next < rest.length && isSpace(rest[next]!)) next++;
  if (sep === 0) return NONE;
  const cmd = parseMaybeJSON(rest.slice(next));
  return { args: [rest.slice(0, sep), ...cmd.args], json: cmd.json };
}
