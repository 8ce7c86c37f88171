// What every instruction module receives: the build's services, the stage being built, the step's
// identity for progress, and the build args.
import type { StepInfo } from "../events.js";
import type { BuildSession } from "../session.js";
import type { StageState } from "../state.js";
import type { StageResult } from "../stageresult.js";
import type { BuiltStep } from "../fsstep.js";

export interface StepContext {
  session: BuildSession;
  state: StageState;
  info: StepInfo;
  /** --build-arg values given on the command line. */
  buildArgs: Record<string, string>;
  /** Global ARG values (before the first FROM). */
  metaArgs: Map<string, string | undefined>;
  /** The automatic platform args (TARGETPLATFORM, BUILDARCH…) of this build. */
  automaticArgs: Readonly<Record<string, string>>;
  /** Names of --build-arg values some ARG consumed (to warn about the others). */
  consumedArgs: Set<string>;
  /** The final state of an earlier stage (for COPY --from=stage), awaited on demand. */
  stageResult(index: number): Promise<StageResult>;
  /** Finds an earlier stage by name or index; undefined when the name is an image reference. */
  findStage(ref: string): number | undefined;
  escape: string;
  /** Given to a RUN only: the step before, built, its layer still to be written (stage.ts says why). */
  after?: BuiltStep;
}
