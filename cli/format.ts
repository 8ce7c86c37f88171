// Small text helpers for tables: Docker's human sizes and "3 minutes ago".

export function humanSize(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  const shown = i === 0 ? String(v) : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0);
  return `${shown.replace(/\.0+$|(\.\d*?)0+$/, "$1")}${units[i]}`;
}

export function timeAgo(iso: string | undefined, now = Date.now()): string {
  if (!iso) return "N/A";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "N/A";
  const s = Math.max(0, Math.round((now - t) / 1000));
  const plural = (n: number, unit: string): string => `${n} ${unit}${n === 1 ? "" : "s"} ago`;
  if (s < 1) return "Less than a second ago";
  if (s < 60) return plural(s, "second");
  if (s < 3600) return plural(Math.round(s / 60), "minute");
  if (s < 86400 * 2) return plural(Math.round(s / 3600), "hour");
  if (s < 86400 * 14) return plural(Math.round(s / 86400), "day");
  if (s < 86400 * 60) return plural(Math.round(s / 86400 / 7), "week");
  if (s < 86400 * 365 * 2) return plural(Math.round(s / 86400 / 30), "month");
  return plural(Math.round(s / 86400 / 365), "year");
}

/** Left-aligned columns separated by three spaces, as docker prints tables. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]! + 3))).join("").trimEnd();
  return [line(header), ...rows.map(line)].join("\n") + "\n";
}
