// The reading half of cli/template.ts: a Go template's text split into text and actions (trim markers
// and comments applied), actions tokenized and parsed into pipelines, and the control structures
// (if/else if/else, range/else, with) into a tree that template.ts runs.
import { UserError } from "../common/errors.js";

type Value = unknown;

export type Arg =
  | { kind: "field"; base: "dot" | "root" | string; path: string[] }
  | { kind: "chain"; pipe: Pipeline; path: string[] }
  | { kind: "literal"; value: Value }
  | { kind: "pipe"; pipe: Pipeline }
  | { kind: "ident"; name: string };
export interface Command { args: Arg[] }
export interface Pipeline { decl: string[]; assign: boolean; commands: Command[] }

export type Node =
  | { kind: "text"; text: string }
  | { kind: "action"; pipe: Pipeline }
  | { kind: "if" | "with"; pipe: Pipeline; then: Node[]; otherwise: Node[] }
  | { kind: "range"; pipe: Pipeline; body: Node[]; otherwise: Node[] };

export class TemplateError extends UserError {
  constructor(template: string, detail: string) {
    super(`template: ${detail} (in ${JSON.stringify(template.length > 120 ? `${template.slice(0, 120)}…` : template)})`);
  }
}

type Piece = { kind: "text"; text: string } | { kind: "action"; text: string };

/** Splits the template into text and the insides of {{ }}, applying trim markers and dropping comments. */
function split(template: string): Piece[] {
  const pieces: Piece[] = [];
  let pos = 0;
  while (pos < template.length) {
    const open = template.indexOf("{{", pos);
    if (open < 0) {
      pieces.push({ kind: "text", text: template.slice(pos) });
      break;
    }
    let text = template.slice(pos, open);
    let start = open + 2;
    if (template.startsWith("- ", start) || template.startsWith("-\t", start) || template.startsWith("-\n", start)) {
      text = text.replace(/\s+$/, "");
      start += 1;
    }
    if (text !== "") pieces.push({ kind: "text", text });
    const close = findClose(template, start);
    if (close < 0) throw new TemplateError(template, "unclosed action");
    let end = close;
    let next = close + 2;
    if (template[close - 1] === "-" && /\s/.test(template[close - 2] ?? "")) {
      end = close - 1;
      while (next < template.length && /\s/.test(template[next] as string)) next++;
    }
    const inside = template.slice(start, end).trim();
    if (!(inside.startsWith("/*") && inside.endsWith("*/"))) pieces.push({ kind: "action", text: inside });
    pos = next;
  }
  return pieces;
}

/** The `}}` closing an action, skipping string literals. */
function findClose(s: string, from: number): number {
  for (let i = from; i < s.length; i++) {
    const c = s[i];
    if (c === '"' || c === "`") {
      const q = c;
      for (i++; i < s.length && s[i] !== q; i++) if (q === '"' && s[i] === "\\") i++;
    } else if (c === "}" && s[i + 1] === "}") return i;
  }
  return -1;
}

type Token = { t: "str"; v: string } | { t: "num"; v: number } | { t: "word"; v: string } | { t: "punct"; v: "(" | ")" | "|" | ":=" | "=" | "," };

function tokenize(src: string, template: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    if (/\s/.test(c)) { i++; continue; }
    if (c === '"') {
      let j = i + 1;
      let v = "";
      for (; j < src.length && src[j] !== '"'; j++) {
        if (src[j] === "\\") {
          j++;
          const e = src[j];
          v += e === "n" ? "\n" : e === "t" ? "\t" : e === "\\" ? "\\" : e === '"' ? '"' : `\\${e ?? ""}`;
        } else v += src[j];
      }
      if (j >= src.length) throw new TemplateError(template, "unterminated string");
      out.push({ t: "str", v });
      i = j + 1;
      continue;
    }
    if (c === "`") {
      const j = src.indexOf("`", i + 1);
      if (j < 0) throw new TemplateError(template, "unterminated raw string");
      out.push({ t: "str", v: src.slice(i + 1, j) });
      i = j + 1;
      continue;
    }
    if (src.startsWith(":=", i)) { out.push({ t: "punct", v: ":=" }); i += 2; continue; }
    if (c === "(" || c === ")" || c === "|" || c === "=" || c === ",") { out.push({ t: "punct", v: c }); i++; continue; }
    const m = /^-?\d+(\.\d+)?/.exec(src.slice(i));
    if (m && (c !== "-" || /\d/.test(src[i + 1] ?? ""))) {
      out.push({ t: "num", v: Number(m[0]) });
      i += m[0].length;
      continue;
    }
    const w = /^[^\s()|=,"`]+/.exec(src.slice(i));
    if (!w) throw new TemplateError(template, `unexpected ${JSON.stringify(c)}`);
    out.push({ t: "word", v: w[0] });
    i += w[0].length;
  }
  return out;
}

class PipeParser {
  private i = 0;
  constructor(private readonly toks: Token[], private readonly template: string) {}

  parse(): Pipeline {
    const p = this.pipeline();
    if (this.i < this.toks.length) throw new TemplateError(this.template, `unexpected ${JSON.stringify(this.toks[this.i]?.v)}`);
    return p;
  }

  private pipeline(): Pipeline {
    const decl: string[] = [];
    let assign = false;
    // `$x :=`, `$i, $v :=`, `$x =`
    const save = this.i;
    const vars: string[] = [];
    while (this.peekWord()?.startsWith("$")) {
      vars.push(this.next().v as string);
      if (this.peekPunct(",")) { this.i++; continue; }
      break;
    }
    if (vars.length > 0 && (this.peekPunct(":=") || this.peekPunct("="))) {
      assign = this.next().v === "=";
      decl.push(...vars);
    } else this.i = save;
    const commands: Command[] = [this.command()];
    while (this.peekPunct("|")) {
      this.i++;
      commands.push(this.command());
    }
    return { decl, assign, commands };
  }

  private command(): Command {
    const args: Arg[] = [];
    while (this.i < this.toks.length && !this.peekPunct("|") && !this.peekPunct(")")) args.push(this.operand());
    if (args.length === 0) throw new TemplateError(this.template, "missing value for command");
    return { args };
  }

  private operand(): Arg {
    const tok = this.next();
    if (tok.t === "str" || tok.t === "num") return { kind: "literal", value: tok.v };
    if (tok.t === "punct") {
      if (tok.v !== "(") throw new TemplateError(this.template, `unexpected ${JSON.stringify(tok.v)}`);
      const pipe = this.pipeline();
      if (!this.peekPunct(")")) throw new TemplateError(this.template, "unclosed parenthesis");
      this.i++;
      // `(…).Field` chains
      const chained = this.peekWord();
      if (chained?.startsWith(".") && chained !== ".") {
        this.i++;
        return { kind: "chain", pipe, path: chained.slice(1).split(".") };
      }
      return { kind: "pipe", pipe };
    }
    const w = tok.v;
    if (w === ".") return { kind: "field", base: "dot", path: [] };
    if (w.startsWith(".")) return { kind: "field", base: "dot", path: w.slice(1).split(".") };
    if (w.startsWith("$")) {
      const [name, ...path] = w.split(".");
      return { kind: "field", base: name === "$" ? "root" : (name as string), path };
    }
    if (w === "true" || w === "false") return { kind: "literal", value: w === "true" };
    if (w === "nil") return { kind: "literal", value: null };
    return { kind: "ident", name: w };
  }

  private next(): Token {
    const t = this.toks[this.i++];
    if (!t) throw new TemplateError(this.template, "unexpected end of action");
    return t;
  }
  private peekWord(): string | undefined {
    const t = this.toks[this.i];
    return t?.t === "word" ? t.v : undefined;
  }
  private peekPunct(p: string): boolean {
    const t = this.toks[this.i];
    return t?.t === "punct" && t.v === p;
  }
}

function parsePipe(src: string, template: string): Pipeline {
  return new PipeParser(tokenize(src, template), template).parse();
}

/** Parses the pieces into a tree; `stop` names the keywords that end the current list. */
function parseNodes(pieces: Piece[], template: string): Node[] {
  let i = 0;
  const list = (stops: string[]): { nodes: Node[]; stop: string } => {
    const nodes: Node[] = [];
    while (i < pieces.length) {
      const p = pieces[i++] as Piece;
      if (p.kind === "text") { nodes.push({ kind: "text", text: p.text }); continue; }
      const [keyword = ""] = p.text.split(/\s+/, 1);
      const rest = p.text.slice(keyword.length).trim();
      if (stops.includes(keyword) || (keyword === "else" && stops.includes("else"))) {
        i--; // the caller reads it
        return { nodes, stop: keyword };
      }
      if (keyword === "if" || keyword === "with" || keyword === "range") nodes.push(control(keyword, rest));
      else if (keyword === "end" || keyword === "else") throw new TemplateError(template, `unexpected {{${keyword}}}`);
      else if (keyword === "define" || keyword === "template" || keyword === "block") throw new TemplateError(template, `{{${keyword}}} is not supported`);
      else nodes.push({ kind: "action", pipe: parsePipe(p.text, template) });
    }
    if (stops.length > 0) throw new TemplateError(template, "unexpected end: missing {{end}}");
    return { nodes, stop: "" };
  };
  const control = (keyword: "if" | "with" | "range", src: string): Node => {
    const pipe = parsePipe(src, template);
    const body = list(["else", "end"]);
    let otherwise: Node[] = [];
    const stopPiece = pieces[i++] as Piece;
    if (body.stop === "else") {
      const after = stopPiece.text.slice(4).trim();
      if (after.startsWith("if ") && keyword === "if") {
        // `{{else if x}}` is an `if` nested in the else branch, sharing our {{end}}
        return { kind: "if", pipe, then: body.nodes, otherwise: [control("if", after.slice(3))] };
      }
      const rest = list(["end"]);
      i++;
      otherwise = rest.nodes;
    }
    return keyword === "range" ? { kind: "range", pipe, body: body.nodes, otherwise } : { kind: keyword, pipe, then: body.nodes, otherwise };
  };
  return list([]).nodes;
}

/** The tree of a template's text. */
export function parseTemplate(template: string): Node[] {
  return parseNodes(split(template), template);
}
