// What a build tells the outside world while it runs. The builder emits these; cli/ renders them
// (tty, plain, json) and writes the report. Nothing here prints.
import type { SourcePlace } from "../common/errors.js";

export interface StepInfo {
  /** Unique within one build: "s<stage>.<ordinal>". */
  id: string;
  /** The stage's AS name, or "stage-N" for an unnamed one. */
  stage: string;
  stageIndex: number;
  /** 1-based position in the stage, counting FROM as 1 (BuildKit's "[stage 2/5]"). */
  index: number;
  total: number;
  /** The instruction as written, continuation lines joined. */
  instruction: string;
  place: SourcePlace;
  /** True for RUN, COPY, ADD, WORKDIR: steps that produce a layer. */
  filesystem: boolean;
  /**
   * How progress shows the step, as BuildKit numbers its vertices: FROM and the filesystem steps count
   * (`[2/4]`), metadata instructions do not; FROM shows the resolved base (`FROM docker.io/library/x:1`).
   * `prefix` is what BuildKit writes before the number: the stage's name and a space when the
   * Dockerfile has several stages (`stage-N` for an unnamed one), a platform before it when several
   * are built (`linux/arm64 build `), else nothing.
   */
  shown: { position: number; count: number; text: string; prefix: string };
  /** The earlier stages the step reads (FROM a stage, COPY --from, RUN --mount from=), by report name. */
  uses?: string[];
}

/**
 * BuildKit's prefixCommand: `[build 2/13] RUN make`, the position padded to the width of the count
 * (`[ 2/13]`); an unnumbered step (position 0: a named folder's `[context NAME] load from client`) by its text.
 */
export function stepLabel(step: StepInfo): string {
  const { position, count, text, prefix } = step.shown;
  if (position === 0) return text;
  const width = Math.floor(1 + Math.log10(count));
  return `[${prefix}${String(position).padStart(width)}/${count}] ${text}`;
}

export interface StepResult {
  cached: boolean;
  /** Why a filesystem step was not taken from the cache (or undefined when cached / metadata). */
  reason?: string;
  key?: string;
  durationMs: number;
  /** For a cache hit: how long the step took when it was built. */
  savedMs?: number;
  layerDigest?: string;
  layerSize?: number;
  /** A hit restored from a shared cache (--cache-from) rather than the local one. */
  source?: "registry" | "local";
  /** `tsbuild plan`: what the build will do with the step (a build reports only hits and rebuilds). */
  planned?: "cached" | "rebuild" | "depends";
  /** `tsbuild plan`: how long the step took when it was last built (ms), where known. */
  estimatedMs?: number;
}

/**
 * A part of a step that takes a while, as BuildKit's vertex statuses: unpacking a base image's layer
 * (`extracting sha256:…`, bytes of its blob read of its size), reported while it runs and once when done.
 */
export interface StepStatus {
  /** What it is, as progress shows it: "extracting sha256:<hex>". */
  id: string;
  current: number;
  total: number;
  done: boolean;
  /** When it began (ms since the epoch). */
  started: number;
}

export type BuildEvent =
  | { type: "plan"; steps: StepInfo[] }
  | { type: "step-start"; step: StepInfo }
  | { type: "step-output"; step: StepInfo; stream: "stdout" | "stderr"; text: string }
  | { type: "step-status"; step: StepInfo; status: StepStatus }
  | { type: "step-done"; step: StepInfo; result: StepResult }
  | { type: "step-error"; step: StepInfo; message: string }
  | { type: "warning"; message: string; place?: SourcePlace }
  | { type: "image"; id: string; manifestDigest: string; refs: string[] };

export type EventSink = (event: BuildEvent) => void;
