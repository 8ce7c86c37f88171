// `--format` of Docker's listings (images, history, ps, system df): `json` (one object a line), `table`
// (the default columns), `table TEMPLATE` (a header row made from the template's fields, then a row
// each, tab-aligned as Docker's tabwriter does), or a bare TEMPLATE (a line per row). `\t` and `\n`
// written literally in the format become a tab and a newline, as in Docker's formatter.
import { GoTemplate, goJson } from "./template.js";

export interface ListFormat {
  /** The template of the default table, e.g. "{{.Repository}}\t{{.Tag}}\t…". */
  table: string;
  /** The header of each field, e.g. ID → "IMAGE ID"; other fields get their name in capitals. */
  headers: Record<string, string>;
}

/** Go's text/tabwriter as Docker sets it up: cells at least 10 wide, 3 spaces of padding, last cell bare. */
export function tabwrite(text: string): string {
  const lines = text.split("\n");
  const cells = lines.map((l) => l.split("\t"));
  const widths: number[] = [];
  for (const row of cells) {
    row.slice(0, -1).forEach((c, i) => { widths[i] = Math.max(widths[i] ?? 10, [...c].length + 3); });
  }
  return cells.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c + " ".repeat((widths[i] ?? 10) - [...c].length))).join("").replace(/ +$/, "")).join("\n");
}

function unescape(format: string): string {
  return format.replaceAll("\\t", "\t").replaceAll("\\n", "\n");
}

/**
 * The header row: the template run over a row whose every field is its header. The fields are the
 * template's own (`{{.Size}}`), so that a listing with no rows still has its header, as Docker's.
 */
function headerRow(source: string, headers: Record<string, string>, sample: Record<string, unknown>): string {
  const named = [...source.matchAll(/\.([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!);
  const fields = new Set([...named, ...Object.keys(sample), ...Object.keys(headers)]);
  const names: Record<string, string> = {};
  for (const f of fields) names[f] = headers[f] ?? f.replace(/([a-z])([A-Z])/g, "$1 $2").toUpperCase();
  return new GoTemplate(source).render(names);
}

/** What the listing prints for these rows (objects with Docker's field names), ending in a newline. */
export function formatList(format: string | undefined, rows: Record<string, unknown>[], list: ListFormat): string {
  const f = format?.trim() ?? "table";
  if (f === "json") return rows.map((r) => `${goJson(r)}\n`).join("");
  // "table" begins a table format with or without a space after it, as in Docker's formatter
  if (f.startsWith("table")) {
    const source = f === "table" ? list.table : unescape(f.slice("table".length).trim());
    // the rows are Docker's structs: a field they lack is an error; the header row is made of names only
    const template = new GoTemplate(source, true);
    const lines = [headerRow(source, list.headers, rows[0] ?? {}), ...rows.map((r) => template.render(r))];
    return `${tabwrite(lines.join("\n"))}\n`;
  }
  const template = new GoTemplate(unescape(f), true);
  return rows.map((r) => `${template.render(r)}\n`).join("");
}
