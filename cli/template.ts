// Go's text/template, the part Docker's --format users write: fields (`.A.B`, `$`, `$x.A`), pipelines
// (`.A | json`), parenthesised calls, `if`/`else if`/`else`, `range` (with `$i, $v :=` and `else`),
// `with`, variables (`$x := …`, `$x = …`), trim markers (`{{-`, `-}}`), comments, and the functions
// Docker scripts use: Go's (and or not len index eq ne lt le gt ge print printf println) and Docker's
// (json join split lower upper title truncate pad). Values print as Go's %v prints Docker's structs.
import { TemplateError, parseTemplate, type Arg, type Command, type Node, type Pipeline } from "./templateparse.js";

/**
 * JSON as Go's encoding/json writes it (what Docker's `{{json .}}` and `--format json` print): <, > and &
 * escaped as \u003c, \u003e, \u0026, and U+2028/U+2029 escaped too.
 */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

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

// ---- execution -------------------------------------------------------------------------------------

interface Scope { dot: Value; root: Value; vars: Map<string, Value> }

/** `strict`: a field the object does not have is an error (Docker's listings run over Go structs), not `<no value>`. */
function field(v: Value, path: string[], template: string, strict = false): Value {
  let cur = v;
  for (const part of path) {
    if (part === "") continue;
    if (cur === null || cur === undefined) return undefined;
    if (typeof cur !== "object") throw new TemplateError(template, `can't evaluate field ${part} in type ${typeof cur}`);
    if (strict && !Array.isArray(cur) && !(part in cur)) throw new TemplateError(template, `can't evaluate field ${part}`);
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
  json: (a) => goJson(a[0] ?? null),
  join: (a) => (Array.isArray(a[0]) ? a[0].map((x) => goValue(x)).join(String(a[1] ?? "")) : ""),
  split: (a) => String(a[0] ?? "").split(String(a[1] ?? "")),
  lower: (a) => String(a[0] ?? "").toLowerCase(),
  upper: (a) => String(a[0] ?? "").toUpperCase(),
  title: (a) => String(a[0] ?? "").replace(/\b\w/g, (c) => c.toUpperCase()),
  truncate: (a) => [...String(a[0] ?? "")].slice(0, Number(a[1] ?? 0)).join(""),
  pad: (a) => `${" ".repeat(Number(a[1] ?? 0))}${String(a[0] ?? "")}${" ".repeat(Number(a[2] ?? 0))}`,
};

class Executor {
  constructor(private readonly template: string, private readonly strict = false) {}

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
        return { value: field(this.pipe(a.pipe, scope).value, a.path, this.template, this.strict), name: a.path[a.path.length - 1] ?? "" };
      case "field": {
        let base: Value;
        if (a.base === "dot") base = scope.dot;
        else if (a.base === "root") base = scope.root;
        else {
          if (!scope.vars.has(a.base)) throw new TemplateError(this.template, `undefined variable: ${a.base}`);
          base = scope.vars.get(a.base);
        }
        return { value: field(base, a.path, this.template, this.strict), name: a.path[a.path.length - 1] ?? "" };
      }
    }
  }
}

/** A parsed template, to run against many rows. */
export class GoTemplate {
  private readonly nodes: Node[];

  /** `strict`: see field(). */
  constructor(readonly source: string, private readonly strict = false) {
    this.nodes = parseTemplate(source);
  }

  render(data: Value): string {
    const out: string[] = [];
    new Executor(this.source, this.strict).run(this.nodes, { dot: data, root: data, vars: new Map([["$", data]]) }, out);
    return out.join("");
  }
}

export function renderTemplate(template: string, data: Value): string {
  return new GoTemplate(template).render(data);
}
