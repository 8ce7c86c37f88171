// One instruction to its module. A filesystem step says what happened (fsstep.ts StepOutcome); a
// metadata instruction only changes the stage's config.
import type { Instruction } from "../instructions/index.js";
import type { StepOutcome } from "../fsstep.js";
import type { StepContext } from "./context.js";
import { dispatchArg } from "./arg.js";
import { dispatchCmd } from "./cmd.js";
import { dispatchCopy } from "./copy.js";
import { dispatchEntrypoint } from "./entrypoint.js";
import { dispatchEnv } from "./env.js";
import { dispatchExpose } from "./expose.js";
import { dispatchHealthcheck } from "./healthcheck.js";
import { dispatchLabel } from "./label.js";
import { dispatchMaintainer } from "./maintainer.js";
import { dispatchOnbuild } from "./onbuild.js";
import { dispatchRun } from "./run.js";
import { dispatchShell } from "./shell.js";
import { dispatchStopSignal } from "./stopsignal.js";
import { dispatchUser } from "./user.js";
import { dispatchVolume } from "./volume.js";
import { dispatchWorkdir } from "./workdir.js";
import { DockerfileError } from "../../common/errors.js";

export async function dispatch(ctx: StepContext, instr: Instruction, used: Set<string>): Promise<StepOutcome | undefined> {
  switch (instr.kind) {
    case "RUN": return dispatchRun(ctx, instr);
    case "COPY":
    case "ADD": return dispatchCopy(ctx, instr, used);
    case "WORKDIR": return dispatchWorkdir(ctx, instr);
    default:
      await dispatchMetadata(ctx, instr);
      return undefined;
  }
}

async function dispatchMetadata(ctx: StepContext, instr: Exclude<Instruction, { kind: "RUN" | "COPY" | "ADD" | "WORKDIR" }>): Promise<void> {
  switch (instr.kind) {
    case "ENV": return dispatchEnv(ctx, instr);
    case "ARG": return dispatchArg(ctx, instr);
    case "LABEL": return dispatchLabel(ctx, instr);
    case "EXPOSE": return dispatchExpose(ctx, instr);
    case "USER": return dispatchUser(ctx, instr);
    case "VOLUME": return dispatchVolume(ctx, instr);
    case "CMD": return dispatchCmd(ctx, instr);
    case "ENTRYPOINT": return dispatchEntrypoint(ctx, instr);
    case "SHELL": return dispatchShell(ctx, instr);
    case "STOPSIGNAL": return dispatchStopSignal(ctx, instr);
    case "HEALTHCHECK": return dispatchHealthcheck(ctx, instr);
    case "ONBUILD": return dispatchOnbuild(ctx, instr);
    case "MAINTAINER": return dispatchMaintainer(ctx, instr);
    case "FROM": throw new DockerfileError(instr.place, "FROM inside a stage");
  }
}
