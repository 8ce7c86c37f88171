// Instruction-order advice for people learning how the cache works: when a COPY/ADD missed because
// some context files changed and slow RUN steps after it re-ran only because of that, say so and
// what copying those files later would have saved. It is a hint, not a rule: the tool cannot know
// whether those RUN steps need the changed files, so the message says "if".

export interface AdvisedStep {
  stage: string;
  instruction: string;
  line: number;
  cached: boolean;
  reason: string | null;
  duration_ms: number;
}

export interface OrderAdvice {
  stage: string;
  /** The COPY/ADD whose inputs changed. */
  line: number;
  instruction: string;
  /** Its miss reason, e.g. `src/index.js changed`. */
  change: string;
  /** The RUN steps that re-ran only because of it. */
  rerun: Array<{ line: number; instruction: string; duration_ms: number }>;
  /** Their time in this build: what keeping them cached would have saved. */
  saved_ms: number;
  message: string;
}

/** Reasons that are not a change in the copied files. */
const NOT_AN_INPUT_CHANGE = [
  /^not built before$/, /^--no-cache$/, /^base image changed$/, /^parent step/, /^instruction text changed$/,
  /^build arg /, /^ENV /, /^(WORKDIR|USER|SHELL|network mode|command) changed/, /^cache entry missing/, /^cache key changed$/,
];

/** Steps taking less than this are not worth a hint. */
const MIN_SAVED_MS = 500;

export function orderAdvice(steps: readonly AdvisedStep[], minSavedMs = MIN_SAVED_MS): OrderAdvice[] {
  const out: OrderAdvice[] = [];
  const stages = [...new Set(steps.map((s) => s.stage))];
  for (const stage of stages) {
    const inStage = steps.filter((s) => s.stage === stage);
    const breaking = inStage.findIndex((s) => !s.cached && isContextCopy(s.instruction) && isInputChange(s.reason));
    if (breaking < 0) continue;
    const copy = inStage[breaking]!;
    if (copiesOnlyWhatChanged(copy)) continue;
    const rerun = inStage
      .slice(breaking + 1)
      .filter((s) => !s.cached && /^RUN\b/i.test(s.instruction) && (s.reason ?? "").startsWith("parent step"));
    const saved = rerun.reduce((n, s) => n + s.duration_ms, 0);
    if (rerun.length === 0 || saved < minSavedMs) continue;
    const change = copy.reason ?? "";
    const listed = rerun.slice(0, 3).map((s) => `line ${s.line} \`${short(s.instruction)}\` ${seconds(s.duration_ms)}`).join(", ");
    const more = rerun.length > 3 ? `, and ${rerun.length - 3} more` : "";
    out.push({
      stage, line: copy.line, instruction: copy.instruction, change,
      rerun: rerun.map((s) => ({ line: s.line, instruction: s.instruction, duration_ms: s.duration_ms })),
      saved_ms: saved,
      message:
        `line ${copy.line} \`${short(copy.instruction)}\` missed (${change}), so ${rerun.length} RUN step${rerun.length === 1 ? "" : "s"} ` +
        `re-ran (${listed}${more}). If they do not need those files, copy only what they need before them and the rest ` +
        `after them: this change would then have cost about ${seconds(saved)} less.`,
    });
  }
  return out;
}

function isContextCopy(instruction: string): boolean {
  return /^(COPY|ADD)\b/i.test(instruction) && !/\s--from=/i.test(instruction);
}

/** `COPY package.json ./` missing because package.json changed: the order is already right. */
function copiesOnlyWhatChanged(copy: AdvisedStep): boolean {
  const changed = /^(?:mode of )?(\S+) (?:changed|added|removed)/.exec(copy.reason ?? "")?.[1];
  if (changed === undefined) return false;
  const words = copy.instruction.split(/\s+/).slice(1).filter((w) => !w.startsWith("--"));
  const sources = words.slice(0, -1).map((w) => w.replace(/^\.\//, "").replace(/\/$/, ""));
  return sources.length > 0 && sources.every((w) => w === changed);
}

function isInputChange(reason: string | null): boolean {
  return reason !== null && reason !== "" && !NOT_AN_INPUT_CHANGE.some((re) => re.test(reason));
}

function short(instruction: string): string {
  const one = instruction.replace(/\s+/g, " ").trim();
  return one.length <= 60 ? one : `${one.slice(0, 57)}...`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}
