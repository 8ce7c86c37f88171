// History lines ("created_by") as BuildKit 0.13's Dockerfile frontend writes them into the image config
// (dockerfile2llb/convert.go), one function per instruction kind whose text is not simply its words.
import type { AddInstruction, CopyInstruction, HealthConfig } from "../instructions/index.js";
import { goDuration, goQuoteList } from "./gofmt.js";

/** Go's %q of a string list, space separated in brackets: ["/bin/sh" "-c"]. */
export function goQuotedList(items: string[]): string {
  return goQuoteList(items);
}

/**
 * The `|N K=V ... ` prefix of a RUN line (runCommandString): every ARG the stage declared, once, in the
 * order first declared, with its value in the step's environment ("" when it has none). BuildKit 0.13
 * repeated a re-declared ARG; v0.18 lists it once (moby/buildkit#5505), which tsbuild follows
 * (testdata/oracle-differences.md).
 */
export function buildArgPrefix(declared: readonly string[], env: readonly string[]): string {
  const names = [...new Set(declared)];
  if (names.length === 0) return "";
  const values = new Map<string, string>();
  for (const kv of env) {
    const eq = kv.indexOf("=");
    values.set(eq < 0 ? kv : kv.slice(0, eq), eq < 0 ? "" : kv.slice(eq + 1));
  }
  return `|${names.length} ${names.map((k) => `${k}=${values.get(k) ?? ""}`).join(" ")} `;
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

/**
 * HEALTHCHECK: Go's %+v of the config: {Test:[CMD echo x] Interval:5s Timeout:0s StartPeriod:0s
 * StartInterval:0s Retries:2}. BuildKit 0.13 printed %q of a pointer to it (&{["CMD" "echo x"] "5s"
 * ... '\x02'}), a wrong verb that v0.30 fixed; tsbuild follows the fix (testdata/oracle-differences.md).
 */
export function healthcheckCreatedBy(h: HealthConfig): string {
  const d = goDuration;
  return `HEALTHCHECK {Test:[${h.test.join(" ")}] Interval:${d(h.interval)} Timeout:${d(h.timeout)} `
    + `StartPeriod:${d(h.startPeriod)} StartInterval:${d(h.startInterval)} Retries:${h.retries}}`;
}

/** EXPOSE: Go's %v of this instruction's port set (a map, printed with sorted keys). */
export function exposeCreatedBy(ports: readonly string[]): string {
  return `EXPOSE map[${[...new Set(ports)].sort().map((p) => `${p}:{}`).join(" ")}]`;
}
