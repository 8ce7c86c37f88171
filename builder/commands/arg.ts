import type { ArgInstruction } from "../instructions/index.js";
import { PLATFORM_ARGS } from "../plan.js";
import type { StepContext } from "./context.js";
import { argCreatedBy } from "./history.js";

/**
 * ARG: declares build args in the stage. The value is the --build-arg if given, else the default,
 * else the global ARG's value (an `ARG NAME` re-declaring a global one), else the automatic
 * platform args, else the value an earlier ARG of the stage gave it (BuildKit adds each value to the
 * step environment, where a later `ARG NAME` leaves it); a declared arg without any value stays unset.
 */
export function dispatchArg(ctx: StepContext, instr: ArgInstruction): void {
  for (const { key, value } of instr.args) {
    const given = Object.hasOwn(ctx.buildArgs, key);
    if (given) ctx.consumedArgs.add(key);
    const v = (given ? ctx.buildArgs[key] : undefined) ?? value ?? ctx.metaArgs.get(key)
      ?? (Object.hasOwn(PLATFORM_ARGS, key) ? PLATFORM_ARGS[key] : undefined) ?? ctx.state.args.get(key);
    ctx.state.args.set(key, v);
    ctx.state.declaredArgs.push(key);
  }
  ctx.state.addHistory(argCreatedBy(instr.args), true);
}
