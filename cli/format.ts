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

/** A size in BuildKit's progress ("12.35MB / 49.56MB"): decimal units, two decimals. */
export function progressSize(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? String(v) : v.toFixed(2)}${units[i]}`;
}

/** Docker's go-units HumanDuration: "About an hour", "3 days", "Less than a second". */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  const minutes = Math.floor(seconds / 60);
  const hours = Math.floor(ms / 3_600_000 + 0.5);
  if (seconds < 1) return "Less than a second";
  if (seconds === 1) return "1 second";
  if (seconds < 60) return `${seconds} seconds`;
  if (minutes === 1) return "About a minute";
  if (minutes < 60) return `${minutes} minutes`;
  if (hours === 1) return "About an hour";
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(ms / 3_600_000 / 24 / 365)} years`;
}

/** "About an hour ago", as docker's CREATED columns; "N/A" without a time. */
export function timeAgo(iso: string | undefined, now = Date.now()): string {
  if (!iso) return "N/A";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "N/A";
  return `${humanDuration(Math.max(0, now - t))} ago`;
}

/** Left-aligned columns as docker's tabwriter prints them: 3 spaces of padding, cells at least 10 wide. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(10, 3 + Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length))));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("").trimEnd();
  return [line(header), ...rows.map(line)].join("\n") + "\n";
}
