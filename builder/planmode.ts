// `tsbuild plan`: the build walked without running anything. Each filesystem step's key is computed
// and looked up as a build would; a hit is applied (its snapshot exists), a miss is predicted with the
// build's own reason and its key carried on (so the steps after it are looked up with the keys the
// build will give them), and a step whose key needs what only running can tell (the files of a stage
// that will rebuild, a URL without --checksum) "depends": the steps after it in its stage depend too.
// Nothing is written: no snapshot, layer, cache entry or image (the file-digest cache may be refreshed).

/** Thrown by a step that cannot be decided without running; the stage loop reports it as `depends`. */
export class PlanDepends extends Error {
  constructor(readonly on: string) {
    super(`depends on ${on}`);
    this.name = "PlanDepends";
  }
}

/** What a stage will be, as far as the plan can tell. */
export type PlannedStage = "cached" | "rebuild" | "depends";
