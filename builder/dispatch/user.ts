import type { UserInstruction } from "../instructions/index.js";
import type { StepContext } from "./context.js";

/** USER: the user later RUN steps (and the container) run as; resolved when a step runs. */
export function dispatchUser(ctx: StepContext, instr: UserInstruction): void {
  ctx.state.containerConfig.User = instr.user;
  ctx.state.addHistory(`USER ${instr.user}`, true);
}
