import type { MaintainerInstruction } from "../instructions/index.js";
import type { StepContext } from "./context.js";

/** MAINTAINER (deprecated): the image's author. */
export function dispatchMaintainer(ctx: StepContext, instr: MaintainerInstruction): void {
  ctx.state.config.author = instr.maintainer;
  ctx.state.addHistory(`MAINTAINER ${instr.maintainer}`, true);
}
