import type { StepInfo } from "../../builder/events.js";

/** "[build 2/5] RUN make", as BuildKit labels a step (FROM and filesystem steps counted); an unnumbered one (position 0: a named folder's `[context NAME] load from client`) by its text. */
export function stepLabel(step: StepInfo): string {
  if (step.shown.position === 0) return step.shown.text;
  const stage = step.stage.startsWith("stage-") ? "" : `${step.stage} `;
  return `[${stage}${step.shown.position}/${step.shown.count}] ${step.shown.text}`;
}
