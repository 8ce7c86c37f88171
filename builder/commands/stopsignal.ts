import type { StopSignalInstruction } from "../instructions/index.js";
import type { StepContext } from "./context.js";

/** STOPSIGNAL: the signal that stops a container of this image. */
export function dispatchStopSignal(ctx: StepContext, instr: StopSignalInstruction): void {
  ctx.state.run.StopSignal = instr.signal;
  ctx.state.addHistory(`STOPSIGNAL ${instr.signal}`, true);
}
