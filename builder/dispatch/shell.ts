import type { ShellInstruction } from "../instructions/index.js";
import type { StepContext } from "./context.js";

/** SHELL: the shell for shell-form RUN, CMD and ENTRYPOINT after it. */
export function dispatchShell(ctx: StepContext, instr: ShellInstruction): void {
  ctx.state.containerConfig.Shell = [...instr.shell];
  ctx.state.addHistory(`SHELL [${instr.shell.join(" ")}]`, true);
}
