// Splitting an instruction line into keyword, builder flags and the rest (BuildKit's
// split_command.go).
import { isSpace, trimSpace } from "../shell/chars.js";

const TOKEN_WHITESPACE = /[\t\v\f\r ]+/;

export interface SplitLine {
  keyword: string; // as written
  flags: string[];
  rest: string;
}

export function splitCommand(line: string): SplitLine {
  const trimmed = trimSpace(line);
  const m = TOKEN_WHITESPACE.exec(trimmed);
  if (!m) return { keyword: trimmed, flags: [], rest: "" };
  const keyword = trimmed.slice(0, m.index);
  const { rest, flags } = extractBuilderFlags(trimmed.slice(m.index + m[0].length));
  return { keyword, flags, rest: trimSpace(rest) };
}

/**
 * Leading `--name[=value]` words, with quotes and backslash escapes removed (always `\`,
 * whatever the escape directive says, as in BuildKit). A lone `--` ends the flags.
 */
export function extractBuilderFlags(line: string): { rest: string; flags: string[] } {
  const words: string[] = [];
  let phase: "spaces" | "word" | "quote" = "spaces";
  let word = "";
  let quote = "";
  let blankOK = false;
  for (let pos = 0; pos <= line.length; pos++) {
    let ch = pos < line.length ? line[pos]! : "";
    if (phase === "spaces") {
      if (pos === line.length) break;
      if (isSpace(ch)) continue;
      // keep going only while the next word starts with --
      if (ch !== "-" || pos + 1 === line.length || line[pos + 1] !== "-") {
        return { rest: line.slice(pos), flags: words };
      }
      phase = "word";
    }
    if (pos === line.length) {
      if (word !== "--" && (blankOK || word.length > 0)) words.push(word);
      break;
    }
    if (phase === "word") {
      if (isSpace(ch)) {
        phase = "spaces";
        if (word === "--") return { rest: line.slice(pos), flags: words };
        if (blankOK || word.length > 0) words.push(word);
        word = "";
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = "quote";
        continue;
      }
      if (ch === "\\") {
        if (pos + 1 === line.length) continue; // skip \ at the end
        pos++;
        ch = line[pos]!;
      }
      word += ch;
      continue;
    }
    // in a quote
    if (ch === quote) {
      phase = "word";
      continue;
    }
    if (ch === "\\") {
      if (pos + 1 === line.length) {
        phase = "word";
        continue;
      }
      pos++;
      ch = line[pos]!;
    }
    word += ch;
  }
  return { rest: "", flags: words };
}
