// `--build-context NAME=VALUE` (buildx's named contexts): `FROM NAME` and `COPY --from=NAME` (and RUN
// --mount from=NAME) take VALUE instead, where no stage of the Dockerfile is named NAME. VALUE is a
// folder (its files, as `COPY --from` sources; their content keys the step; as a base, a layer of them:
// builder/namedbase.ts) or `docker-image://REF` (that image, as if the Dockerfile named it).
import type { StagePlan } from "./plan.js";

/** `fetched`: a URL fetched into the folder (cli/buildcontexts.ts): no .dockerignore applies, and BuildKit names its layer by the URL. */
export type NamedContext = { kind: "dir"; path: string; fetched?: FetchedFrom } | { kind: "image"; ref: string };
export interface FetchedFrom { kind: "http" | "git"; url: string }

/** FROM NAME of a named image context becomes FROM REF; of a folder, a stage on that folder's layer. */
export function applyNamedContexts(stages: StagePlan[], contexts: ReadonlyMap<string, NamedContext>): void {
  for (const s of stages) {
    if (s.baseStage !== undefined) continue;
    const name = s.baseName.toLowerCase();
    const named = contexts.get(name);
    if (named?.kind === "image") s.baseName = named.ref;
    else if (named?.kind === "dir") s.namedFolder = { name, path: named.path, ...(named.fetched ? { fetched: named.fetched } : {}) };
  }
}
