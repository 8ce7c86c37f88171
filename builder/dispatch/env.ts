import type { EnvInstruction } from "../instructions/index.js";
import type { StepContext } from "./context.js";

/** ENV: sets variables in the image config (and for the steps after it). */
export function dispatchEnv(ctx: StepContext, instr: EnvInstruction): void {
  for (const { key, value } of instr.env) ctx.state.setEnv(key, value);
  ctx.state.addHistory(`ENV ${instr.env.map((p) => `${p.key}=${p.value}`).join(" ")}`, true);
}
