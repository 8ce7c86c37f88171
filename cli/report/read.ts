// Reads a JSON report written by `build --report` back, checking the fields the HTML page uses, so
// that a wrong file is one line naming it and the field rather than a broken page. (Checked by hand:
// the shape is ours and small; a schema library would be a dependency for twenty lines.)
import { readFile } from "node:fs/promises";
import { UserError } from "../../common/errors.js";
import type { BuildReport } from "../report.js";

type Check = (v: unknown) => boolean;
const isString: Check = (v) => typeof v === "string";
const isNumber: Check = (v) => typeof v === "number" && Number.isFinite(v);
const isBoolean: Check = (v) => typeof v === "boolean";
const orNull = (c: Check): Check => (v) => v === null || c(v);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

const STEP: Record<string, Check> = {
  stage: isString, instruction: isString, line: isNumber, cached: isBoolean, reason: orNull(isString),
  duration_ms: isNumber, layer_size: orNull(isNumber),
};
const TOTALS: Record<string, Check> = {
  filesystem_steps: isNumber, hits: isNumber, misses: isNumber, hit_ratio: isNumber, duration_ms: isNumber, time_saved_ms: isNumber,
};

/** The first field that is not as a report writes it, as `steps[3].cached`, or undefined. */
export function reportProblem(v: unknown): string | undefined {
  if (!isRecord(v)) return "the top level";
  if (v.version !== 1) return "version";
  for (const [k, c] of Object.entries({ dockerfile: isString, context: isString, success: isBoolean, error: orNull(isString) })) {
    if (!c(v[k])) return k;
  }
  if (v.image !== null && !(isRecord(v.image) && isString(v.image.id) && Array.isArray(v.image.tags) && v.image.tags.every(isString))) return "image";
  if (!Array.isArray(v.steps)) return "steps";
  for (const [i, s] of v.steps.entries()) {
    if (!isRecord(s)) return `steps[${i}]`;
    for (const [k, c] of Object.entries(STEP)) if (!c(s[k])) return `steps[${i}].${k}`;
    if (s.uses !== undefined && !(Array.isArray(s.uses) && s.uses.every(isString))) return `steps[${i}].uses`;
  }
  if (!Array.isArray(v.advice)) return "advice";
  for (const [i, a] of v.advice.entries()) if (!isRecord(a) || !isString(a.message) || !isNumber(a.line)) return `advice[${i}]`;
  if (!isRecord(v.totals)) return "totals";
  for (const [k, c] of Object.entries(TOTALS)) if (!c(v.totals[k])) return `totals.${k}`;
  return undefined;
}

export async function readReport(file: string): Promise<BuildReport> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new UserError(`${file}: no such file`);
    if (code === "EISDIR") throw new UserError(`${file}: is a folder, not a build report`);
    throw e;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${file}: not JSON (${(e as Error).message.slice(0, 120)})`);
  }
  const problem = reportProblem(parsed);
  if (problem !== undefined) throw new UserError(`${file}: not a tsbuild build report (${problem} is not as \`build --report\` writes it)`);
  return parsed as BuildReport;
}
