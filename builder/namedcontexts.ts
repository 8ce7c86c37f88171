// `--build-context NAME=VALUE` (buildx's named contexts): `FROM NAME` and `COPY --from=NAME` (and RUN
// --mount from=NAME) take VALUE instead, where no stage of the Dockerfile is named NAME. VALUE is a
// folder (its files, as `COPY --from` sources; their content keys the step) or `docker-image://REF`
// (that image, as if the Dockerfile named it).
import { DockerfileError } from "../common/errors.js";
import type { StagePlan } from "./plan.js";

export type NamedContext = { kind: "dir"; path: string } | { kind: "image"; ref: string };

/** FROM NAME of a named image context becomes FROM REF; of a folder, an error naming the line. */
export function applyNamedContexts(stages: StagePlan[], contexts: ReadonlyMap<string, NamedContext>): void {
  for (const s of stages) {
    if (s.baseStage !== undefined) continue;
    const named = contexts.get(s.baseName.toLowerCase());
    if (named?.kind === "image") s.baseName = named.ref;
    else if (named?.kind === "dir") {
      throw new DockerfileError(s.stage.from.place, `FROM ${s.baseName}: the build context ${s.baseName} is a folder; tsbuild takes a folder context with COPY --from=${s.baseName}, not as a base image`);
    }
  }
}
