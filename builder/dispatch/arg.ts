import type { ArgInstruction } from "../instructions/index.js";
import type { StepContext } from "./context.js";
import { argCreatedBy } from "./history.js";

/**
 * ARG: declares build args in the stage. The value is the --build-arg if given, else the default,
 * else the global ARG's value (an `ARG NAME` re-declaring a global one), else the automatic platform
 * args. BuildKit adds such a value to the step environment, over an earlier ENV of the name; an ARG
 * without any value leaves that environment as it was (an earlier ARG's value stays).
 */
export function dispatchArg(ctx: StepContext, instr: ArgInstruction): void {
  const { state } = ctx;
  for (const { key, value } of instr.args) {
    const given = Object.hasOwn(ctx.buildArgs, key);
    if (given) ctx.consumedArgs.add(key);
    const v = (given ? ctx.buildArgs[key] : undefined) ?? value ?? ctx.metaArgs.get(key)
      ?? (Object.hasOwn(ctx.automaticArgs, key) ? ctx.automaticArgs[key] : undefined);
    if (v !== undefined) {
      state.args.set(key, v);
      state.argsOverEnv.add(key);
    } else if (!state.args.has(key)) {
      state.args.set(key, undefined);
    }
    state.declaredArgs.push(key);
  }
  state.addHistory(argCreatedBy(instr.args), true);
}
