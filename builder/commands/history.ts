// History lines as BuildKit writes them into the image config ("created_by").

/** Go's %q of a string list, space separated in brackets: ["/bin/sh" "-c"]. */
export function goQuotedList(items: string[]): string {
  return `[${items.map((s) => JSON.stringify(s)).join(" ")}]`;
}

/** `|2 A=1 B=2 ` prefix BuildKit puts before a RUN's command when build args are in scope. */
export function buildArgPrefix(args: Record<string, string>): string {
  const keys = Object.keys(args).sort();
  if (keys.length === 0) return "";
  return `|${keys.length} ${keys.map((k) => `${k}=${args[k]}`).join(" ")} `;
}
