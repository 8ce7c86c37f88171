// The build plan: which stages the target needs and in which order they depend on each other.
// A stage depends on the stage it is FROM and on every stage a COPY --from or RUN --mount from= names. Stages the
// target does not need are never built.
import { DockerfileError, UserError } from "../common/errors.js";
import { expandInstruction, type ArgInstruction, type Instruction, type Stage, type Stages } from "./instructions/index.js";
import { InstructionError } from "./instructions/request.js";
import { parseRunMount } from "./instructions/runmount.js";
import type { EnvLookup } from "./shell/index.js";
import { platformArgs } from "../runtime/platform.js";
import type { NamedFolderBase } from "./namedbase.js";

/** Build args every Dockerfile may use without declaring them globally (BuildKit's automatic platform args) on a linux/amd64 build for linux/amd64. */
export const PLATFORM_ARGS: Readonly<Record<string, string>> = platformArgs({ os: "linux", architecture: "amd64" }, { os: "linux", architecture: "amd64" });

export interface StagePlan {
  stage: Stage;
  /** The name in reports: the AS name, or stage-N. */
  displayName: string;
  /** The expanded FROM: an image reference, "scratch", or a stage's name. */
  baseName: string;
  /** Index of the stage this one is FROM, if any. */
  baseStage?: number;
  /** Indexes of stages this one needs (FROM and COPY --from). */
  deps: Set<number>;
  /** `FROM --platform=…`, expanded (the build's target platform when absent). */
  platform?: string;
  /** FROM a folder given with --build-context (builder/namedbase.ts), set by applyNamedContexts. */
  namedFolder?: NamedFolderBase;
}

export interface BuildPlan {
  /** Global ARGs (before the first FROM) with their values after --build-arg. */
  metaArgs: Map<string, string | undefined>;
  stages: StagePlan[];
  /** The stage to build: --target, or the last one. */
  target: number;
  /** Stages the target needs (itself included). */
  needed: Set<number>;
  /** TARGETPLATFORM, BUILDARCH…: the automatic args of this build's platforms. */
  automaticArgs: Readonly<Record<string, string>>;
}

/** Evaluates the global ARGs in order: a --build-arg wins over the default; defaults may use earlier ones. */
export function evaluateMetaArgs(metaArgs: ArgInstruction[], buildArgs: Record<string, string>, escape: string, automatic: Readonly<Record<string, string>> = PLATFORM_ARGS): Map<string, string | undefined> {
  const values = new Map<string, string | undefined>();
  const lookup: EnvLookup = (name) => values.get(name) ?? automatic[name];
  for (const instr of metaArgs) {
    for (const raw of instr.args) {
      // a --build-arg replaces the default unexpanded: `ARG FOO=${FOO:?msg}` with FOO given builds (BuildKit)
      if (Object.hasOwn(buildArgs, raw.key)) {
        values.set(raw.key, buildArgs[raw.key]);
        continue;
      }
      const { instruction } = expandInstruction({ ...instr, args: [raw] }, lookup, escape);
      for (const arg of instruction.args) values.set(arg.key, arg.value);
    }
  }
  return values;
}

export function metaLookup(metaArgs: Map<string, string | undefined>, automatic: Readonly<Record<string, string>> = PLATFORM_ARGS): EnvLookup {
  return (name) => (metaArgs.has(name) ? metaArgs.get(name) : automatic[name]);
}

/** The `--from` values of COPY and of RUN --mount (bind/cache), expanded with the global ARGs. */
export function stageReferences(instr: Instruction, lookup: EnvLookup, escape: string): string[] {
  if (instr.kind === "COPY" && instr.from !== undefined) {
    return [expandInstruction(instr, lookup, escape).instruction.from ?? instr.from];
  }
  if (instr.kind !== "RUN" || instr.mounts.length === 0) return [];
  const refs: string[] = [];
  for (const spec of expandInstruction(instr, lookup, escape).instruction.mounts) {
    let from: string | undefined;
    try {
      from = parseRunMount(spec).from;
    } catch (e) {
      if (e instanceof InstructionError) continue; // reported with its line when the step runs
      throw e;
    }
    if (from !== undefined) refs.push(from);
  }
  return refs;
}

/** Finds a stage by its AS name (case-insensitive) or, for COPY --from, its index. */
export function findStage(stages: Stage[], ref: string, before: number, allowIndex: boolean): number | undefined {
  const lower = ref.toLowerCase();
  const byName = stages.find((s) => s.name === lower && s.index < before);
  if (byName) return byName.index;
  if (allowIndex && /^\d+$/.test(ref)) {
    const i = Number.parseInt(ref, 10);
    if (i < before) return i;
  }
  return undefined;
}

export function makePlan(parsed: Stages, buildArgs: Record<string, string>, target: string | undefined, escape: string, dockerfileName: string, automatic: Readonly<Record<string, string>> = PLATFORM_ARGS): BuildPlan {
  const metaArgs = evaluateMetaArgs(parsed.metaArgs, buildArgs, escape, automatic);
  const lookup = metaLookup(metaArgs, automatic);
  const plans: StagePlan[] = parsed.stages.map((stage) => {
    const from = expandInstruction(stage.from, lookup, escape).instruction;
    const deps = new Set<number>();
    const baseStage = findStage(parsed.stages, from.baseName, stage.index, false);
    if (baseStage !== undefined) deps.add(baseStage);
    for (const instr of stage.instructions) {
      for (const fromRef of stageReferences(instr, lookup, escape)) {
        const dep = findStage(parsed.stages, fromRef, stage.index, true);
        if (dep !== undefined) deps.add(dep);
        else if (findStage(parsed.stages, fromRef, Number.MAX_SAFE_INTEGER, true) !== undefined) {
          throw new DockerfileError(instr.place, `${instr.kind} --from=${fromRef}: stage ${fromRef} is defined after this stage (a stage can only use an earlier one)`);
        }
      }
    }
    if (from.baseName === "") throw new DockerfileError(stage.from.place, "base name (FROM) should not be blank");
    return {
      stage,
      displayName: stage.name ?? `stage-${stage.index}`,
      baseName: from.baseName,
      ...(from.platform !== undefined && from.platform !== "" ? { platform: from.platform } : {}),
      ...(baseStage !== undefined ? { baseStage } : {}),
      deps,
    };
  });
  let targetIndex = plans.length - 1;
  if (target !== undefined) {
    const found = parsed.stages.find((s) => s.name === target.toLowerCase());
    if (!found) throw new UserError(`${dockerfileName}: target stage "${target}" could not be found`);
    targetIndex = found.index;
  }
  const needed = new Set<number>();
  const visit = (i: number): void => {
    if (needed.has(i)) return;
    needed.add(i);
    for (const d of plans[i]!.deps) visit(d);
  };
  visit(targetIndex);
  return { metaArgs, stages: plans, target: targetIndex, needed, automaticArgs: automatic };
}
