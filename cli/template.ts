// Go's text/template, the part Docker's --format users write: fields (`.A.B`, `$`, `$x.A`), pipelines
// (`.A | json`), parenthesised calls, `if`/`else if`/`else`, `range` (with `$i, $v :=` and `else`),
// `with`, variables (`$x := …`, `$x = …`), trim markers (`{{-`, `-}}`), comments, and the functions
// Docker scripts use: Go's (and or not len index eq ne lt le gt ge print printf println) and Docker's
// (json join split lower upper title truncate pad). Values print as Go's %v prints Docker's structs.
import { UserError } from "../common/errors.js";

type Value = unknown;

// ---- printing -------------------------------------------------------------------------------------

/** Fields Docker's structs declare as maps: a null one prints as Go's empty map. */
const MAP_FIELDS = new Set(["Labels", "Volumes", "ExposedPorts", "Data", "Metadata"]);

/** Go's fmt %v for the values an image config holds. A null is a nil slice or map in Docker's structs. */
function goValue(v: Value, field = ""): string {
  if (v === undefined) return "<no value>";
  if (v === null) return MAP_FIELDS.has(field) ? "map[]" : "[]";
  if (Array.isArray(v)) return `[${v.map((x) => goValue(x)).join(" ")}]`;
  if (typeof v === "object") {
    const entries = Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `map[${entries.map(([k, x]) => `${k}:${goValue(x)}`).join(" ")}]`;
  }
  return String(v);
}

function truthy(v: Value): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "object") return Object.keys(v as object).length > 0;
  return true;
}

// ---- lexing and parsing ----------------------------------------------------------------------------

type Arg =
  | { kind: "field"; base: "dot" | "root" | string; path: string[] }
  | { kind: "chain"; pipe: Pipeline; path: string[] }
  | { kind: "literal"; value: Value }
  | { kind: "pipe"; pipe: Pipeline }
  | { kind: "ident"; name: string };
interface Command { args: Arg[] }
interface Pipeline { decl: string[]; assign: boolean; commands: Command[] }

type Node =
  | { kind: "text"; text: string }
  | { kind: "action"; pipe: Pipeline }
  | { kind: "if" | "with"; pipe: Pipeline; then: Node[]; otherwise: Node[] }
  | { kind: "range"; pipe: Pipeline; body: Node[]; otherwise: Node[] };

class TemplateError extends UserError {
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

// ---- execution -------------------------------------------------------------------------------------

interface Scope { dot: Value; root: Value; vars: Map<string, Value> }

function field(v: Value, path: string[], template: string): Value {
  let cur = v;
  for (const part of path) {
    if (part === "") continue;
    if (cur === null || cur === undefined) return undefined;
    if (typeof cur !== "object") throw new TemplateError(template, `can't evaluate field ${part} in type ${typeof cur}`);
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function compare(a: Value, b: Value): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

function printf(format: string, args: Value[]): string {
  let n = 0;
  return format.replace(/%([-+ 0#]*)(\d*)(?:\.(\d+))?([svdqfxt%])/g, (_m, flags: string, width: string, prec: string | undefined, verb: string) => {
    if (verb === "%") return "%";
    const a = args[n++];
    let s = verb === "q" ? JSON.stringify(goValue(a)) : verb === "d" ? String(Math.trunc(Number(a))) : verb === "f" ? Number(a).toFixed(prec === undefined ? 6 : Number(prec)) : verb === "x" ? Number(a).toString(16) : goValue(a);
    if (verb === "s" && prec !== undefined) s = s.slice(0, Number(prec));
    const w = Number(width || 0);
    return flags.includes("-") ? s.padEnd(w) : s.padStart(w, flags.includes("0") && verb !== "s" ? "0" : " ");
  });
}

const FUNCTIONS: Record<string, (args: Value[], template: string) => Value> = {
  and: (a) => a.find((x) => !truthy(x)) ?? a[a.length - 1],
  or: (a) => a.find((x) => truthy(x)) ?? a[a.length - 1],
  not: (a) => !truthy(a[0]),
  len: (a, t) => {
    const v = a[0];
    if (typeof v === "string" || Array.isArray(v)) return v.length;
    if (v !== null && typeof v === "object") return Object.keys(v).length;
    if (v === null || v === undefined) return 0;
    throw new TemplateError(t, `len of ${typeof v}`);
  },
  index: (a) => a.slice(1).reduce<Value>((cur, k) => (cur !== null && typeof cur === "object" ? (cur as Record<string, unknown>)[String(k)] : undefined), a[0]),
  eq: (a) => a.slice(1).some((x) => x === a[0]),
  ne: (a) => a[0] !== a[1],
  lt: (a) => compare(a[0], a[1]) < 0,
  le: (a) => compare(a[0], a[1]) <= 0,
  gt: (a) => compare(a[0], a[1]) > 0,
  ge: (a) => compare(a[0], a[1]) >= 0,
  print: (a) => a.map((x) => goValue(x)).join(""),
  println: (a) => `${a.map((x) => goValue(x)).join(" ")}\n`,
  printf: (a) => printf(String(a[0] ?? ""), a.slice(1)),
  json: (a) => JSON.stringify(a[0] ?? null),
  join: (a) => (Array.isArray(a[0]) ? a[0].map((x) => goValue(x)).join(String(a[1] ?? "")) : ""),
  split: (a) => String(a[0] ?? "").split(String(a[1] ?? "")),
  lower: (a) => String(a[0] ?? "").toLowerCase(),
  upper: (a) => String(a[0] ?? "").toUpperCase(),
  title: (a) => String(a[0] ?? "").replace(/\b\w/g, (c) => c.toUpperCase()),
  truncate: (a) => [...String(a[0] ?? "")].slice(0, Number(a[1] ?? 0)).join(""),
  pad: (a) => `${" ".repeat(Number(a[1] ?? 0))}${String(a[0] ?? "")}${" ".repeat(Number(a[2] ?? 0))}`,
};

class Executor {
  constructor(private readonly template: string) {}

  run(nodes: Node[], scope: Scope, out: string[]): void {
    for (const n of nodes) {
      switch (n.kind) {
        case "text":
          out.push(n.text);
          break;
        case "action": {
          const { value, name } = this.pipe(n.pipe, scope);
          if (n.pipe.decl.length === 0) out.push(goValue(value, name));
          break;
        }
        case "if":
        case "with": {
          const inner: Scope = { ...scope, vars: new Map(scope.vars) };
          const { value } = this.pipe(n.pipe, inner);
          if (truthy(value)) this.run(n.then, n.kind === "with" ? { ...inner, dot: value } : inner, out);
          else this.run(n.otherwise, inner, out);
          break;
        }
        case "range": {
          const inner: Scope = { ...scope, vars: new Map(scope.vars) };
          const decl = n.pipe.decl;
          const { value } = this.pipe({ ...n.pipe, decl: [] }, inner);
          const items: [Value, Value][] = Array.isArray(value)
            ? value.map((v, i) => [i, v])
            : value !== null && typeof value === "object"
              ? Object.keys(value).sort().map((k) => [k, (value as Record<string, unknown>)[k]])
              : typeof value === "number" ? Array.from({ length: value }, (_, i) => [i, i]) : [];
          if (items.length === 0) this.run(n.otherwise, inner, out);
          for (const [k, v] of items) {
            if (decl.length === 1) inner.vars.set(decl[0] as string, v);
            if (decl.length === 2) { inner.vars.set(decl[0] as string, k); inner.vars.set(decl[1] as string, v); }
            this.run(n.body, { ...inner, dot: v }, out);
          }
          break;
        }
      }
    }
  }

  private pipe(p: Pipeline, scope: Scope): { value: Value; name: string } {
    let result: { value: Value; name: string } | undefined;
    for (const cmd of p.commands) result = this.command(cmd, scope, result);
    const value = result?.value;
    if (p.decl.length === 1) {
      const name = p.decl[0] as string;
      if (p.assign && !scope.vars.has(name)) throw new TemplateError(this.template, `undefined variable: ${name}`);
      scope.vars.set(name, value);
    }
    return result ?? { value: undefined, name: "" };
  }

  private command(cmd: Command, scope: Scope, piped: { value: Value; name: string } | undefined): { value: Value; name: string } {
    const [head, ...rest] = cmd.args;
    if (head?.kind === "ident") {
      const fn = FUNCTIONS[head.name];
      if (!fn) throw new TemplateError(this.template, `function "${head.name}" not defined`);
      const args = rest.map((a) => this.arg(a, scope).value);
      if (piped) args.push(piped.value);
      return { value: fn(args, this.template), name: "" };
    }
    if (rest.length > 0 || (piped && head)) {
      throw new TemplateError(this.template, `can't give argument to non-function ${JSON.stringify(head?.kind === "field" ? `.${head.path.join(".")}` : "value")}`);
    }
    return this.arg(head as Arg, scope);
  }

  private arg(a: Arg, scope: Scope): { value: Value; name: string } {
    switch (a.kind) {
      case "literal":
        return { value: a.value, name: "" };
      case "pipe":
        return this.pipe(a.pipe, scope);
      case "ident": {
        const fn = FUNCTIONS[a.name];
        if (!fn) throw new TemplateError(this.template, `function "${a.name}" not defined`);
        return { value: fn([], this.template), name: "" };
      }
      case "chain":
        return { value: field(this.pipe(a.pipe, scope).value, a.path, this.template), name: a.path[a.path.length - 1] ?? "" };
      case "field": {
        let base: Value;
        if (a.base === "dot") base = scope.dot;
        else if (a.base === "root") base = scope.root;
        else {
          if (!scope.vars.has(a.base)) throw new TemplateError(this.template, `undefined variable: ${a.base}`);
          base = scope.vars.get(a.base);
        }
        return { value: field(base, a.path, this.template), name: a.path[a.path.length - 1] ?? "" };
      }
    }
  }
}

/** A parsed template, to run against many rows. */
export class GoTemplate {
  private readonly nodes: Node[];

  constructor(readonly source: string) {
    this.nodes = parseNodes(split(source), source);
  }

  render(data: Value): string {
    const out: string[] = [];
    new Executor(this.source).run(this.nodes, { dot: data, root: data, vars: new Map([["$", data]]) }, out);
    return out.join("");
  }
}

export function renderTemplate(template: string, data: Value): string {
  return new GoTemplate(template).render(data);
}
