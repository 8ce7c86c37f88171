// Here-document openers (`<<EOF`, `<<-EOF`, `<<"EOF"`) found in a RUN/COPY/ADD line, as
// BuildKit's parser finds them: the line is split into shell words (quotes and escapes kept,
// nothing expanded) and every word of the form `[n]<<[-]NAME` opens one heredoc.
import { processWithOptions, WordExpansionError } from "../shell/lex.js";
import { LineParseError } from "./lineparsers.js";
import type { Heredoc } from "./types.js";

const HEREDOC_WORD = /^(\d*)<<(-?)([^<]*)$/;
const noEnv = (): undefined => undefined;

export type HeredocOpener = Omit<Heredoc, "content">;

/** The heredoc a single word opens, or undefined if it opens none. */
export function parseHeredocWord(word: string): HeredocOpener | undefined {
  const m = HEREDOC_WORD.exec(word);
  if (!m) return undefined;
  const chomp = m[2] === "-";
  const rest = m[3]!;
  if (rest === "") return undefined;
  // Lex the name with and without quotes: if they differ, part of it was quoted, and a
  // quoted delimiter means the body is not expanded.
  const words = processWithOptions(rest, noEnv, { skipUnsetEnv: true }).words;
  if (words.length !== 1) return undefined;
  const raw = processWithOptions(rest, noEnv, { skipUnsetEnv: true, rawQuotes: true }).words;
  if (raw.length !== 1) throw new LineParseError(`internal lexing of heredoc produced inconsistent results: ${rest}`);
  const name = words[0]!;
  const quotes = (s: string): number => s.split("'").length + s.split('"').length - 2;
  return { name, chomp, expand: quotes(name) === quotes(raw[0]!) };
}

/** The heredocs a whole instruction line opens, in order. */
export function heredocsFromLine(line: string): HeredocOpener[] {
  let words: string[];
  try {
    words = processWithOptions(line, noEnv, { rawQuotes: true, rawEscapes: true, skipUnsetEnv: true }).words;
  } catch (e) {
    // BuildKit ignores a line it cannot split: such a line opens no heredoc
    if (e instanceof WordExpansionError) return [];
    throw e;
  }
  const docs: HeredocOpener[] = [];
  for (const word of words) {
    const doc = parseHeredocWord(word);
    if (doc) docs.push(doc);
  }
  return docs;
}

/** The body of a `<<-` heredoc: leading tabs removed from every line. */
export function chompHeredocContent(content: string): string {
  return content.replace(/^\t+/gm, "");
}
