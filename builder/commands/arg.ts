import type { ArgInstruction } from "../instructions/index.js";
import { PLATFORM_ARGS } from "../plan.js";
import type { StepContext } from "./context.js";

/**
 * ARG: declares build args in the stage. The value is the --build-arg if given, else the default,
 * else the global ARG's value (an `ARG NAME` re-declaring a global one), else the automatic
 * platform args; a declared arg without any value stays unset.
 */
export function dispatchArg(ctx: StepContext, instr: ArgInstruction): void {
  const shown: string[] = [];
  for (const { key, value } of instr.args) {
    let v: string | undefined;
    if (Object.hasOwn(ctx.buildArgs, key)) {
      v = ctx.buildArgs[key];
      ctx.consumedArgs.add(key);
    } else if (value !== undefined) v = value;
    else if (ctx.metaArgs.has(key)) v = ctx.metaArgs.get(key);
    else if (Object.hasOwn(PLATFORM_ARGS, key)) v = PLATFORM_ARGS[key];
    ctx.state.args.set(key, v);
    shown.push(v === undefined ? key : `${key}=${v}`);
  }
  ctx.state.addHistory(`ARG ${shown.join(" ")}`, true);
}
