import { DockerfileError } from "../../common/errors.js";
import type { VolumeInstruction } from "../instructions/index.js";
import type { StepContext } from "./context.js";

/** VOLUME: declares mount points in the image config. */
export function dispatchVolume(ctx: StepContext, instr: VolumeInstruction): void {
  const volumes = { ...(ctx.state.containerConfig.Volumes ?? {}) };
  for (const v of instr.volumes) {
    if (v.trim() === "") throw new DockerfileError(instr.place, "VOLUME specified can not be an empty string");
    volumes[v] = {};
  }
  ctx.state.containerConfig.Volumes = volumes;
  ctx.state.addHistory(`VOLUME [${instr.volumes.join(" ")}]`, true);
}
