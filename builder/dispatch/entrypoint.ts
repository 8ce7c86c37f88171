import type { EntrypointInstruction } from "../instructions/index.js";
import type { StepContext } from "./context.js";
import { goQuotedList } from "./history.js";

/** ENTRYPOINT: also clears an inherited CMD unless this stage set one, as BuildKit does. */
export function dispatchEntrypoint(ctx: StepContext, instr: EntrypointInstruction): void {
  const { cmdLine, prependShell } = instr.command;
  const args = prependShell ? [...ctx.state.shell, cmdLine.join(" ")] : [...cmdLine];
  ctx.state.containerConfig.Entrypoint = args.length === 0 ? null : args;
  if (!ctx.state.cmdSet) ctx.state.containerConfig.Cmd = null;
  ctx.state.addHistory(`ENTRYPOINT ${goQuotedList(args)}`, true);
}
