import type { LabelInstruction } from "../instructions/index.js";
import type { StepContext } from "./context.js";

/** LABEL: merges labels into the image config. */
export function dispatchLabel(ctx: StepContext, instr: LabelInstruction): void {
  const labels = { ...(ctx.state.containerConfig.Labels ?? {}) };
  for (const { key, value } of instr.labels) labels[key] = value;
  ctx.state.containerConfig.Labels = labels;
  ctx.state.addHistory(`LABEL ${instr.labels.map((p) => `${p.key}=${p.value}`).join(" ")}`, true);
}
