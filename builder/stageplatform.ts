// The platform a stage is built for: its `FROM --platform=…` (expanded), else the build's target. Its
// base image must be of that platform, and a FROM scratch image is labelled with it.
import { DockerfileError } from "../common/errors.js";
import type { ImageConfig } from "../image/config.js";
import { parsePlatform } from "../image/registry/platform.js";
import { formatPlatform, type Platform } from "../runtime/platform.js";
import type { StagePlan } from "./plan.js";

export function stagePlatform(plan: StagePlan, target: Platform): Platform {
  if (plan.platform === undefined) return target;
  try {
    return parsePlatform(plan.platform);
  } catch (e) {
    throw new DockerfileError(plan.stage.from.place, `FROM --platform=${plan.platform.slice(0, 60)}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** arm64 means arm64/v8, arm means arm/v7 (containerd's normalisation); other architectures have no default. */
function variantOf(p: { architecture: string; variant?: string }): string | undefined {
  return p.variant ?? (p.architecture === "arm64" ? "v8" : p.architecture === "arm" ? "v7" : undefined);
}

/** Refuses a base image of another platform than the stage's, naming the FROM line and both platforms. */
export function assertBasePlatform(plan: StagePlan, config: ImageConfig, want: Platform): void {
  const have: Platform = { os: config.os || "linux", architecture: config.architecture || "amd64", ...(config.variant ? { variant: config.variant } : {}) };
  const same = have.os === want.os && have.architecture === want.architecture && (want.variant === undefined || variantOf(have) === variantOf(want));
  if (!same) {
    throw new DockerfileError(plan.stage.from.place, `base image ${plan.baseName} is ${formatPlatform(have)}, not ${formatPlatform(want)}: pull or load the ${formatPlatform(want)} image (tsbuild pull --platform ${formatPlatform(want)} …)`);
  }
}
