import type { LabelInstruction } from "../instructions/index.js";
import type { StepContext } from "./context.js";

/** LABEL: merges labels into the image config. */
export function dispatchLabel(ctx: StepContext, instr: LabelInstruction): void {
  const labels = { ...(ctx.state.run.Labels ?? {}) };
  for (const { key, value } of instr.labels) labels[key] = value;
  ctx.state.run.Labels = labels;
  ctx.state.addHistory(`LABEL ${instr.labels.map((p) => `${p.key}=${p.value}`).join(" ")}`, true);
}
