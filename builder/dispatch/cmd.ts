import type { CmdInstruction } from "../instructions/index.js";
import type { StepContext } from "./context.js";
import { goQuotedList } from "./history.js";

/** CMD: the default command (shell form runs through the stage's SHELL). */
export function dispatchCmd(ctx: StepContext, instr: CmdInstruction): void {
  const { cmdLine, prependShell } = instr.command;
  const args = prependShell ? [...ctx.state.shell, cmdLine.join(" ")] : [...cmdLine];
  ctx.state.containerConfig.Cmd = args;
  ctx.state.cmdSet = true;
  ctx.state.addHistory(`CMD ${goQuotedList(args)}`, true);
}
