// Word expansion equal to BuildKit's frontend/dockerfile/shell (lex.go): quotes, escapes,
// $VAR / ${VAR} and the ${VAR<op>word} forms BuildKit supports (:- - :+ + :? ? # ## % %%
// / //). Like BuildKit, `${#VAR}` (length) is NOT supported: `#` is read as the special
// parameter `$#`, and the following name makes it an "unsupported modifier" error.
import { UserError } from "../../common/errors.js";
import { goQuote, isDigit, isLetter, isSpace } from "./chars.js";
import { PatternError, replacePattern, trimPrefix, trimSuffix } from "./pattern.js";

/** Looks a variable up: its value, or undefined when it is not set. */
export type EnvLookup = (name: string) => string | undefined;

/** A word that cannot be expanded (`${}`, unterminated quote, `${VAR:?msg}` ...). */
export class WordExpansionError extends UserError {
  constructor(readonly word: string, readonly detail: string) {
    super(`failed to process ${goQuote(word)}: ${detail}`);
  }
}

export interface LexOptions {
  /** Escape character (`\` or `` ` ``). */
  escape?: string;
  /** Keep quote characters in the output. */
  rawQuotes?: boolean;
  /** Keep escape characters in the output. */
  rawEscapes?: boolean;
  /** Quotes are ordinary characters (heredoc bodies). */
  skipProcessQuotes?: boolean;
  /** Leave references to unset variables as written. */
  skipUnsetEnv?: boolean;
}

export interface ProcessResult {
  result: string;
  words: string[];
  matched: Set<string>;
  unmatched: Set<string>;
}

const EOF = "";

class DetailError extends Error {}

// Accumulates the words of ProcessWords: unquoted whitespace from expansions splits words.
class WordsBuilder {
  private buf = "";
  private inWord = false;
  readonly words: string[] = [];
  addChar(ch: string): void {
    if (isSpace(ch) && this.inWord) {
      if (this.buf.length !== 0) {
        this.words.push(this.buf);
        this.buf = "";
        this.inWord = false;
      }
    } else if (!isSpace(ch)) {
      this.addRawChar(ch);
    }
  }
  addRawChar(ch: string): void {
    this.buf += ch;
    this.inWord = true;
  }
  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }
  addRawString(s: string): void {
    this.buf += s;
    this.inWord = true;
  }
  finish(): string[] {
    if (this.buf.length > 0) {
      this.words.push(this.buf);
      this.buf = "";
      this.inWord = false;
    }
    return this.words;
  }
}

class ShellWord {
  private readonly chars: string[];
  private pos = 0;
  private rawEscapes: boolean;
  readonly matched = new Set<string>();
  readonly unmatched = new Set<string>();
  private readonly escape: string;

  constructor(word: string, private readonly env: EnvLookup, private readonly opts: LexOptions) {
    this.chars = Array.from(word);
    this.rawEscapes = opts.rawEscapes ?? false;
    this.escape = opts.escape ?? "\\";
  }

  private peek(): string {
    return this.chars[this.pos] ?? EOF;
  }
  private next(): string {
    const ch = this.chars[this.pos] ?? EOF;
    if (ch !== EOF) this.pos++;
    return ch;
  }

  run(): { result: string; words: string[] } {
    return this.processStopOn(EOF, this.rawEscapes);
  }

  // Process until the end of the word or until stopChar (consumed).
  private processStopOn(stopChar: string, rawEscapes: boolean): { result: string; words: string[] } {
    let result = "";
    const words = new WordsBuilder();
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      while (this.peek() !== EOF) {
        let ch = this.peek();
        if (stopChar !== EOF && ch === stopChar) {
          this.next();
          return { result, words: words.finish() };
        }
        const special = ch === "$" || (!this.opts.skipProcessQuotes && (ch === "'" || ch === '"'));
        if (special) {
          const tmp = ch === "$" ? this.processDollar() : ch === "'" ? this.processSingleQuote() : this.processDoubleQuote();
          result += tmp;
          if (ch === "$") words.addString(tmp);
          else words.addRawString(tmp);
          continue;
        }
        ch = this.next();
        if (ch === this.escape) {
          if (this.rawEscapes) {
            words.addRawChar(ch);
            result += ch;
          }
          // the escape character escapes the next one, except at the end of the word
          ch = this.next();
          if (ch === EOF) break;
          words.addRawChar(ch);
        } else {
          words.addChar(ch);
        }
        result += ch;
      }
      if (stopChar !== EOF) {
        throw new DetailError(`unexpected end of statement while looking for matching ${stopChar}`);
      }
      return { result, words: words.finish() };
    } finally {
      this.rawEscapes = saved;
    }
  }

  // Everything between single quotes is literal; a single quote cannot be escaped.
  private processSingleQuote(): string {
    let result = "";
    const open = this.next();
    if (this.opts.rawQuotes) result += open;
    for (;;) {
      const ch = this.next();
      if (ch === EOF) throw new DetailError("unexpected end of statement while looking for matching single-quote");
      if (ch === "'") {
        if (this.opts.rawQuotes) result += ch;
        return result;
      }
      result += ch;
    }
  }

  // Double quotes: literal except $ expansions; the escape character escapes only " $ and itself.
  private processDoubleQuote(): string {
    let result = "";
    const open = this.next();
    if (this.opts.rawQuotes) result += open;
    for (;;) {
      const peek = this.peek();
      if (peek === EOF) throw new DetailError("unexpected end of statement while looking for matching double-quote");
      if (peek === '"') {
        const ch = this.next();
        if (this.opts.rawQuotes) result += ch;
        return result;
      }
      if (peek === "$") {
        result += this.processDollar();
        continue;
      }
      let ch = this.next();
      if (ch === this.escape) {
        if (this.rawEscapes) result += ch;
        const after = this.peek();
        if (after === EOF) continue; // ignore an escape at the end of the word
        if (after === '"' || after === "$" || after === this.escape) ch = this.next();
      }
      result += ch;
    }
  }

  private processDollar(): string {
    this.next(); // the $
    if (this.peek() !== "{") {
      const name = this.processName();
      if (name === "") return "$";
      const value = this.getEnv(name);
      if (value === undefined && this.opts.skipUnsetEnv) return "$" + name;
      return value ?? "";
    }
    this.next(); // the {
    const first = this.peek();
    if (first === EOF) throw new DetailError("syntax error: missing '}'");
    if (first === "{" || first === "}" || first === ":") throw new DetailError("syntax error: bad substitution");
    const name = this.processName();
    let ch = this.next();
    let chs = ch;
    if (ch === "}") {
      const value = this.getEnv(name);
      if (value === undefined && this.opts.skipUnsetEnv) return `\${${name}}`;
      return value ?? "";
    }
    if (ch === "/") return this.processReplace(name);
    let nullIsUnset = false;
    if (ch === ":") {
      nullIsUnset = true;
      ch = this.next();
      chs += ch;
    } else if (!"+-?#%".includes(ch) || ch === EOF) {
      if (ch === EOF) throw new DetailError("syntax error: missing '}'");
      throw new DetailError(`unsupported modifier (${chs}) in substitution`);
    }
    const rawEscapes = ch === "#" || ch === "%";
    if (nullIsUnset && rawEscapes) throw new DetailError(`unsupported modifier (${chs}) in substitution`);
    let word = this.stopOnOrMissing("}", rawEscapes, "syntax error: missing '}'");
    const value = this.getEnv(name);
    if (this.opts.skipUnsetEnv && value === undefined) return `\${${name}${chs}${word}}`;
    const unset = value === undefined || (nullIsUnset && value === "");
    switch (ch) {
      case "-":
        return unset ? word : value!;
      case "+":
        return unset ? "" : word;
      case "?":
        if (value === undefined) throw new DetailError(`${name}: ${word !== "" ? word : "is not allowed to be unset"}`);
        if (nullIsUnset && value === "") throw new DetailError(`${name}: ${word !== "" ? word : "is not allowed to be empty"}`);
        return value;
      case "%":
      case "#": {
        // #/% remove the shortest match, ##/%% the longest
        let greedy = false;
        if (word.startsWith(ch)) {
          greedy = true;
          word = word.slice(1);
        }
        try {
          return ch === "%" ? trimSuffix(word, value ?? "", greedy) : trimPrefix(word, value ?? "", greedy);
        } catch (e) {
          if (e instanceof PatternError) throw new DetailError(`invalid pattern (${word}) in substitution: ${e.message}`);
          throw e;
        }
      }
      default:
        throw new DetailError(`unsupported modifier (${chs}) in substitution`);
    }
  }

  // ${VAR/pattern/replacement} and ${VAR//pattern/replacement}
  private processReplace(name: string): string {
    const all = this.peek() === "/";
    if (all) this.next();
    const pattern = this.stopOnOrMissing("/", true, "syntax error: missing '/' in ${}");
    const replacement = this.stopOnOrMissing("}", true, "syntax error: missing '}'");
    const value = this.getEnv(name);
    if (this.opts.skipUnsetEnv && value === undefined) return `\${${name}/${pattern}/${replacement}}`;
    try {
      return replacePattern(pattern, value ?? "", replacement, all);
    } catch (e) {
      if (e instanceof PatternError) throw new DetailError(`invalid pattern (${pattern}) in substitution: ${e.message}`);
      throw e;
    }
  }

  private stopOnOrMissing(stop: string, rawEscapes: boolean, missing: string): string {
    try {
      return this.processStopOn(stop, rawEscapes).result;
    } catch (e) {
      if (e instanceof DetailError && this.peek() === EOF) throw new DetailError(missing);
      throw e;
    }
  }

  // A name: letters, digits and _; or a run of digits (positional); or one special parameter.
  private processName(): string {
    let name = "";
    while (this.peek() !== EOF) {
      const ch = this.peek();
      if (name === "" && isDigit(ch)) {
        while (this.peek() !== EOF && isDigit(this.peek())) name += this.next();
        return name;
      }
      if (name === "" && "@*#?-$!0".includes(ch)) return this.next();
      if (!isLetter(ch) && !isDigit(ch) && ch !== "_") break;
      name += this.next();
    }
    return name;
  }

  private getEnv(name: string): string | undefined {
    const v = this.env(name);
    if (v !== undefined) this.matched.add(name);
    else this.unmatched.add(name);
    return v;
  }
}

/** Expand one word with the given options: BuildKit's Lex.process. */
export function processWithOptions(word: string, env: EnvLookup, opts: LexOptions): ProcessResult {
  const sw = new ShellWord(word, env, opts);
  try {
    const { result, words } = sw.run();
    return { result, words, matched: sw.matched, unmatched: sw.unmatched };
  } catch (e) {
    if (e instanceof DetailError) throw new WordExpansionError(word, e.message);
    throw e;
  }
}

/** BuildKit's ProcessWordWithMatches: the expanded word and the variables it looked up. */
export function processWord(
  word: string,
  env: EnvLookup,
  escape = "\\",
): { result: string; matched: Set<string>; unmatched: Set<string> } {
  const { result, matched, unmatched } = processWithOptions(word, env, { escape });
  return { result, matched, unmatched };
}

/** BuildKit's ProcessWords: expand, then split on unquoted whitespace. */
export function processWords(word: string, env: EnvLookup, escape = "\\"): string[] {
  return processWithOptions(word, env, { escape }).words;
}

/** An EnvLookup over a plain record or Map. */
export function envFrom(vars: Record<string, string> | Map<string, string>): EnvLookup {
  if (vars instanceof Map) return (name) => vars.get(name);
  return (name) => (Object.prototype.hasOwnProperty.call(vars, name) ? vars[name] : undefined);
}
