import type { StepInfo } from "../../builder/events.js";

/** "[build 2/5] RUN make", as BuildKit labels a step. */
export function stepLabel(step: StepInfo): string {
  const stage = step.stage.startsWith("stage-") ? "" : `${step.stage} `;
  return `[${stage}${step.index}/${step.total}] ${step.instruction}`;
}
