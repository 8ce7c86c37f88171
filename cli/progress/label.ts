import type { StepInfo } from "../../builder/events.js";

/** "[build 2/5] RUN make", as BuildKit labels a step (FROM and filesystem steps counted). */
export function stepLabel(step: StepInfo): string {
  const stage = step.stage.startsWith("stage-") ? "" : `${step.stage} `;
  return `[${stage}${step.shown.position}/${step.shown.count}] ${step.shown.text}`;
}
