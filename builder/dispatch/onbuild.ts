import type { OnbuildInstruction } from "../instructions/index.js";
import type { StepContext } from "./context.js";

/** ONBUILD: a trigger kept in the image config, run when another build starts FROM this image. */
export function dispatchOnbuild(ctx: StepContext, instr: OnbuildInstruction): void {
  ctx.state.containerConfig.OnBuild = [...(ctx.state.containerConfig.OnBuild ?? []), instr.expression];
  // BuildKit writes no history entry for ONBUILD.
}
