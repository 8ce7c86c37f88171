import { canonicalJson, stepKey, type StepRecord } from "./key.js";
import type { FileDigestEntry } from "./filedigest.js";

export interface ExplainContext {
  /** The (1-based) step number of the parent step that was rebuilt in this build, if it was. */
  parentRebuiltStep?: number;
  noCache?: boolean;
  /** False when the step has a parent step in its stage (so a new parentKey is not the base image). */
  isFirstStep?: boolean;
}

/**
 * Why a step missed, in a few words, against the record of the last build of the same step.
 * The first meaningful difference wins: no-cache, not built, base/parent, text, build args,
 * env/definition, inputs.
 */
export function explainMiss(prev: StepRecord | undefined, cur: StepRecord, ctx: ExplainContext = {}): string {
  if (ctx.noCache) return "--no-cache";
  if (prev === undefined) return "not built before";
  if (ctx.parentRebuiltStep !== undefined) return `parent step rebuilt (step ${ctx.parentRebuiltStep})`;
  if (prev.parentKey !== cur.parentKey) return ctx.isFirstStep === false ? "parent step changed" : "base image changed";
  if (prev.instruction !== cur.instruction || prev.text !== cur.text) return "instruction text changed";
  const args = buildArgDifference(prev.buildArgs, cur.buildArgs);
  if (args !== undefined) return args;
  const def = definitionDifference(prev.definition, cur.definition);
  if (def !== undefined) return def;
  const inputs = inputsDifference(prev.inputs, cur.inputs);
  if (inputs !== undefined) return inputs;
  if (stepKey(prev) === stepKey(cur)) return "cache entry missing (pruned or never stored)";
  return "cache key changed";
}

function buildArgDifference(prev: Record<string, string>, cur: Record<string, string>): string | undefined {
  const names = [...new Set([...Object.keys(prev), ...Object.keys(cur)])].sort();
  for (const name of names) {
    const had = Object.hasOwn(prev, name);
    const has = Object.hasOwn(cur, name);
    if (had && has && prev[name] !== cur[name]) return `build arg ${name} changed (${prev[name]} → ${cur[name]})`;
    if (!had && has) return `build arg ${name} added (${cur[name]})`;
    if (had && !has) return `build arg ${name} removed`;
  }
  return undefined;
}

/** Names for the usual definition members; anything else is reported by its key. */
const DEFINITION_NAMES: Record<string, string> = {
  workdir: "WORKDIR",
  user: "USER",
  shell: "SHELL",
  argv: "command",
  network: "network mode",
};

function definitionDifference(prev: Record<string, unknown>, cur: Record<string, unknown>): string | undefined {
  const env = envDifference(prev.env, cur.env);
  if (env !== undefined) return env;
  const keys = [...new Set([...Object.keys(prev), ...Object.keys(cur)])].filter((k) => k !== "env").sort(byImportance);
  for (const k of keys) {
    const [a, b] = [prev[k] ?? null, cur[k] ?? null];
    if (canonicalJson(a) === canonicalJson(b)) continue;
    if (k === "argv") return shellDifference(a, b) ?? "command changed";
    const name = DEFINITION_NAMES[k] ?? k;
    const [before, after] = [shortValue(a), shortValue(b)];
    return before !== undefined && after !== undefined ? `${name} changed (${before} → ${after})` : `${name} changed`;
  }
  return undefined;
}

/** The settings a user changes on purpose come first; the command line last (it follows from them). */
function byImportance(a: string, b: string): number {
  const rank = (k: string): number => (k === "argv" ? 1 : 0);
  return rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * A shell-form RUN's argv is the SHELL followed by the command; when only the part before the command
 * differs (same instruction text), SHELL changed.
 */
function shellDifference(a: unknown, b: unknown): string | undefined {
  if (!isStringList(a) || !isStringList(b) || a.length < 2 || b.length < 2) return undefined;
  if (a[a.length - 1] !== b[b.length - 1]) return undefined;
  return `SHELL changed (${a.slice(0, -1).join(" ")} → ${b.slice(0, -1).join(" ")})`;
}

function isStringList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === "string");
}

/** A scalar short enough to show in a reason (`USER changed (1000 → 1001)`), or undefined. */
function shortValue(v: unknown): string | undefined {
  if (v === null) return "none";
  if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") return undefined;
  const s = String(v);
  return s.length <= 40 ? (s === "" ? '""' : s) : undefined;
}

/** env is a list of `NAME=value` (the order of a Dockerfile's ENV lines). */
function envDifference(prev: unknown, cur: unknown): string | undefined {
  if (canonicalJson(prev ?? null) === canonicalJson(cur ?? null)) return undefined;
  const a = envMap(prev);
  const b = envMap(cur);
  if (a === undefined || b === undefined) return "ENV changed";
  for (const [name, value] of b) {
    if (!a.has(name)) return `ENV ${name} added`;
    if (a.get(name) !== value) return `ENV ${name} changed`;
  }
  for (const name of a.keys()) if (!b.has(name)) return `ENV ${name} removed`;
  return "ENV order changed";
}

function envMap(v: unknown): Map<string, string> | undefined {
  if (v === undefined || v === null) return new Map();
  if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) return undefined;
  const m = new Map<string, string>();
  for (const s of v as string[]) {
    const eq = s.indexOf("=");
    m.set(eq < 0 ? s : s.slice(0, eq), eq < 0 ? "" : s.slice(eq + 1));
  }
  return m;
}

type Inputs = StepRecord["inputs"];

function inputsDifference(prev: Inputs, cur: Inputs): string | undefined {
  if (prev?.digest === cur?.digest) return undefined;
  if (prev === undefined || cur === undefined) return "inputs changed";
  const before = new Map(prev.files.map((f) => [f.path, f]));
  const after = new Map(cur.files.map((f) => [f.path, f]));
  const added = cur.files.filter((f) => !before.has(f.path));
  const removed = prev.files.filter((f) => !after.has(f.path));
  const changed: Array<{ entry: FileDigestEntry; what: string }> = [];
  for (const f of cur.files) {
    const old = before.get(f.path);
    if (old === undefined) continue;
    const what = entryChange(old, f);
    if (what !== undefined) changed.push({ entry: f, what });
  }
  // A rename: one path gone, one new, same contents.
  if (added.length === 1 && removed.length === 1 && changed.length === 0) {
    const [a, r] = [added[0] as FileDigestEntry, removed[0] as FileDigestEntry];
    if (a.digest === r.digest) return `${r.path} renamed to ${a.path}`;
  }
  const parts: string[] = [];
  const [onlyChange] = changed;
  if (changed.length === 1 && onlyChange !== undefined) parts.push(onlyChange.what);
  if (changed.length > 1) parts.push(pathsSummary(changed.map((c) => c.entry), "changed"));
  if (added.length > 0) parts.push(pathsSummary(added, "added"));
  if (removed.length > 0) parts.push(pathsSummary(removed, "removed"));
  return parts.length > 0 ? parts.join("; ") : "inputs changed";
}

/** How one path differs, or undefined if only its folder contents did (reported per file). */
function entryChange(old: FileDigestEntry, cur: FileDigestEntry): string | undefined {
  if (old.type !== cur.type) return `${cur.path} changed from ${old.type} to ${cur.type}`;
  // A folder's digest changes with its files (reported one by one); its mode alone does not count.
  if (cur.type === "dir") return undefined;
  if (old.mode !== cur.mode) return `mode of ${cur.path} changed ${octal(old.mode)}→${octal(cur.mode)}`;
  if (old.digest === cur.digest) return undefined;
  return `${cur.path} changed`;
}

/** `src/lib/util.js added`, or `3 files added under src/ (src/a.js, src/b.js, …)`. */
function pathsSummary(entries: FileDigestEntry[], verb: string): string {
  // Folders are implied by the files in them: only name them when nothing else changed.
  const nonDirs = entries.filter((e) => e.type !== "dir");
  const shown = nonDirs.length > 0 ? nonDirs : entries;
  const paths = shown.map((e) => e.path);
  if (paths.length === 1) return `${paths[0]} ${verb}`;
  const noun = nonDirs.length > 0 ? "files" : "folders";
  const under = commonFolder(paths);
  return `${paths.length} ${noun} ${verb}${under === "" ? "" : ` under ${under}/`} (${listed(paths)})`;
}

function listed(paths: string[]): string {
  return paths.length <= 2 ? paths.join(", ") : `${paths.slice(0, 2).join(", ")}, …`;
}

function commonFolder(paths: string[]): string {
  const split = paths.map((p) => p.split("/").slice(0, -1));
  const first = split[0] ?? [];
  let n = first.length;
  for (const s of split) {
    let i = 0;
    while (i < n && s[i] === first[i]) i++;
    n = i;
  }
  return first.slice(0, n).join("/");
}

function octal(mode: number): string {
  return mode.toString(8).padStart(3, "0");
}
