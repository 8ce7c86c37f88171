import type { Digest } from "../common/digest.js";
import type { Descriptor, ImageConfig } from "../image/config.js";
import type { PlannedStage } from "./planmode.js";

/** What a finished stage hands to the stages that use it (FROM stage, COPY --from=stage). */
export interface StageResult {
  config: ImageConfig;
  layers: Descriptor[];
  chainId: Digest | null;
  /** The cache key of the stage's last step. */
  key: Digest;
  /** `tsbuild plan`: whether the stage will be taken from the cache, rebuilt, or cannot be told yet. */
  planned?: PlannedStage;
}
