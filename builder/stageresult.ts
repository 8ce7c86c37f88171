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
  /**
   * Its build args: a stage built FROM it starts with their values in its step environment, as
   * BuildKit's stage starts from its base's state.
   */
  args?: ReadonlyMap<string, string | undefined>;
  /** The last layer's step name and time (StageState.lastLayer). */
  lastLayer?: { name: string; created: string };
  /** `tsbuild plan`: whether the stage will be taken from the cache, rebuilt, or cannot be told yet. */
  planned?: PlannedStage;
}
