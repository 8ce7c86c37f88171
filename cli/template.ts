// A small subset of Go templates for --format: {{.A.B}}, {{json .A}}, {{index .A "key"}}, {{join .A ","}}.
import { UserError } from "../common/errors.js";

function lookup(data: unknown, path: string): unknown {
  if (path === ".") return data;
  let cur: unknown = data;
  for (const part of path.replace(/^\./, "").split(".")) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Fields Docker's structs declare as maps: a null one prints as Go's empty map. */
const MAP_FIELDS = new Set(["Labels", "Volumes", "ExposedPorts", "Data", "Metadata"]);

/** Go's fmt %v for the values an image config holds. A null is a nil slice or map in Docker's structs. */
function goValue(v: unknown, field = ""): string {
  if (v === undefined) return "<no value>";
  if (v === null) return MAP_FIELDS.has(field) ? "map[]" : "[]";
  if (Array.isArray(v)) return `[${v.map((x) => goValue(x)).join(" ")}]`;
  if (typeof v === "object") {
    const entries = Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b));
    return `map[${entries.map(([k, x]) => `${k}:${goValue(x)}`).join(" ")}]`;
  }
  return String(v);
}

export function renderTemplate(template: string, data: unknown): string {
  return template.replace(/\{\{\s*(.*?)\s*\}\}/g, (_m, expr: string) => {
    const words = expr.match(/"[^"]*"|\S+/g) ?? [];
    const arg = (w: string | undefined): unknown => {
      if (w === undefined) return undefined;
      if (w.startsWith('"')) return w.slice(1, -1);
      if (/^\d+$/.test(w)) return Number(w); // {{index .RepoDigests 0}}
      return lookup(data, w);
    };
    switch (words[0]) {
      case "json":
        return JSON.stringify(arg(words[1]) ?? null);
      case "index": {
        const obj = arg(words[1]);
        const key = arg(words[2]);
        return goValue(obj && typeof obj === "object" ? (obj as Record<string, unknown>)[String(key)] : undefined, String(key));
      }
      case "join": {
        const list = arg(words[1]);
        return Array.isArray(list) ? list.map(String).join(String(arg(words[2]) ?? "")) : "";
      }
      default:
        if (words.length === 1 && words[0]!.startsWith(".")) return goValue(lookup(data, words[0]!), words[0]!.split(".").pop());
        throw new UserError(`unsupported template expression: {{${expr}}}`);
    }
  });
}
