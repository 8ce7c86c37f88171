// History lines ("created_by") as BuildKit 0.13's Dockerfile frontend writes them into the image config
// (dockerfile2llb/convert.go), one function per instruction kind whose text is not simply its words.
import type { AddInstruction, CopyInstruction, HealthConfig } from "../instructions/index.js";
import { goDuration, goQuote, goQuoteList, goQuoteRune } from "./gofmt.js";

/** Go's %q of a string list, space separated in brackets: ["/bin/sh" "-c"]. */
export function goQuotedList(items: string[]): string {
  return goQuoteList(items);
}

/**
 * The `|N K=V ... ` prefix of a RUN line (runCommandString): every ARG the stage declared, in order and
 * repeated as often as declared, with its value in the step's environment ("" when it has none).
 */
export function buildArgPrefix(declared: readonly string[], env: readonly string[]): string {
  if (declared.length === 0) return "";
  const values = new Map<string, string>();
  for (const kv of env) {
    const eq = kv.indexOf("=");
    values.set(eq < 0 ? kv : kv.slice(0, eq), eq < 0 ? "" : kv.slice(eq + 1));
  }
  return `|${declared.length} ${declared.map((k) => `${k}=${values.get(k) ?? ""}`).join(" ")} `;
}

/** RUN: the argv joined by spaces (no quoting) after the build args; `env` is the step's ("K=V"). */
export function runCreatedBy(argv: readonly string[], declared: readonly string[], env: readonly string[]): string {
  return `RUN ${buildArgPrefix(declared, env)}${argv.join(" ")} # buildkit`;
}

/** ARG: each name with its default as written (after expansion), never the --build-arg value. */
export function argCreatedBy(args: ReadonlyArray<{ key: string; value?: string | undefined }>): string {
  return `ARG ${args.map((a) => (a.value === undefined ? a.key : `${a.key}=${a.value}`)).join(" ")}`;
}

/** COPY/ADD: --parents, --chown and --chmod as given; --from, --link and the rest are not written. */
export function copyCreatedBy(c: CopyInstruction | AddInstruction): string {
  const words: string[] = [c.kind];
  if (c.kind === "COPY" && c.parents) words.push("--parents");
  if (c.chown !== undefined && c.chown !== "") words.push(`--chown=${c.chown}`);
  if (c.chmod !== undefined && c.chmod !== "") words.push(`--chmod=${c.chmod}`);
  words.push(...c.sources, ...c.contents.map((h) => `<<${h.path}`), c.dest);
  return `${words.join(" ")} # buildkit`;
}

/** HEALTHCHECK: Go's %q of the *HealthcheckConfig: &{["CMD" "x"] "5s" "3s" "0s" "0s" '\x02'}. */
export function healthcheckCreatedBy(h: HealthConfig): string {
  const durations = [h.interval, h.timeout, h.startPeriod, h.startInterval].map((d) => goQuote(goDuration(d)));
  return `HEALTHCHECK &{${[goQuoteList(h.test), ...durations, goQuoteRune(h.retries)].join(" ")}}`;
}

/** EXPOSE: Go's %v of this instruction's port set (a map, printed with sorted keys). */
export function exposeCreatedBy(ports: readonly string[]): string {
  return `EXPOSE map[${[...new Set(ports)].sort().map((p) => `${p}:{}`).join(" ")}]`;
}
