// The state of one stage while it is built: the image config so far, its layers and snapshot chain,
// the cache key of its last step, and the ARGs in scope.
import type { PlannedStage } from "./planmode.js";
import type { StepInfo } from "./events.js";
import type { Digest } from "../common/digest.js";
import type { ContainerConfig, Descriptor, ImageConfig } from "../image/config.js";
import { DEFAULT_PATH } from "../runtime/container.js";

export const DEFAULT_SHELL = ["/bin/sh", "-c"];

export class StageState {
  /** Set once CMD is given in this stage: ENTRYPOINT then keeps it (otherwise it clears the base's CMD). */
  cmdSet = false;
  /** ARGs declared in this stage, with their values (undefined: declared without a value). */
  readonly args = new Map<string, string | undefined>();
  /** Every ARG name as declared, in order, repeats kept: what BuildKit lists before a RUN's history line. */
  readonly declaredArgs: string[] = [];
  /**
   * ARGs given a value after the last ENV of that name (the base image's too): BuildKit adds an ARG's
   * value to the step environment, so the later of the two wins there, for RUN and for expansion.
   */
  readonly argsOverEnv = new Set<string>();
  /** 1-based ordinal (as in "[stage i/n]") of the last step that was rebuilt, for explanations. */
  lastRebuiltStep: number | undefined;
  /**
   * The last layer's step, by its progress name, and when the layer was made: what BuildKit's exporter
   * names a history entry it appends for a layer that has none (builder/namedbase.ts).
   */
  lastLayer: { name: string; created: string } | undefined;
  /** `tsbuild plan`: "rebuild" once a step is predicted to miss, "depends" once one cannot be decided (keys after it are unknown). */
  planned: PlannedStage = "cached";
  /** The FROM, which hears how its base unpacks when that is left to the first step needing it (session.materialize). */
  unpackStep: StepInfo | undefined;
  /** The key the stage started from (its base's): a step on it is the stage's first filesystem step. */
  readonly baseKey: Digest;
  /** Where this stage's own history entries start (those before are the base image's). */
  private readonly historyFrom: number;

  constructor(
    readonly name: string,
    readonly index: number,
    public config: ImageConfig,
    public layers: Descriptor[],
    public chainId: Digest | null,
    /** The cache key of the last step (for the first step: the base's key). */
    public key: Digest,
  ) {
    this.baseKey = key;
    this.historyFrom = config.history?.length ?? 0;
  }

  /** The image config's `config`: what a container of the image runs with (Env, Cmd, User, WorkingDir…). */
  get containerConfig(): ContainerConfig {
    this.config.config ??= {};
    return this.config.config;
  }

  get env(): string[] {
    return this.containerConfig.Env ?? [];
  }

  envValue(name: string): string | undefined {
    for (const kv of this.env) {
      const eq = kv.indexOf("=");
      if ((eq === -1 ? kv : kv.slice(0, eq)) === name) return eq === -1 ? "" : kv.slice(eq + 1);
    }
    return undefined;
  }

  /**
   * A stage built FROM another starts with that stage's build args with values in its step environment
   * (BuildKit 0.13 starts the stage's state from its base's, where each ARG's value went), though not
   * among its own declared ARGs (RUN's history lists those only). The image's ENV is applied over them
   * again, so an ENV of the same name wins (argsOverEnv starts empty).
   */
  inheritArgs(args: ReadonlyMap<string, string | undefined> | undefined): void {
    for (const [k, v] of args ?? []) if (v !== undefined) this.args.set(k, v);
  }

  /** Sets a variable, keeping the position of an existing one (as BuildKit's addEnv does). */
  setEnv(name: string, value: string): void {
    const env = [...this.env];
    const at = env.findIndex((kv) => kv.split("=", 1)[0] === name);
    if (at === -1) env.push(`${name}=${value}`);
    else env[at] = `${name}=${value}`;
    this.containerConfig.Env = env;
    this.argsOverEnv.delete(name);
  }

  /** Build args with a value, not shadowed by ENV: what RUN sees besides the image's env. */
  argsWithValues(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of this.args) if (v !== undefined) out[k] = v;
    return out;
  }

  /** The variables for word expansion: of an ENV and an ARG of the same name, the later one. */
  lookup = (name: string): string | undefined => {
    const fromEnv = this.argsOverEnv.has(name) ? undefined : this.envValue(name);
    if (fromEnv !== undefined) return fromEnv;
    return this.args.get(name);
  };

  get workdir(): string {
    return this.containerConfig.WorkingDir || "/";
  }

  get shell(): string[] {
    return this.containerConfig.Shell && this.containerConfig.Shell.length > 0 ? this.containerConfig.Shell : DEFAULT_SHELL;
  }

  /**
   * A history entry. A layer's is dated when its layer was made (`created`: a cache hit keeps the
   * original build's time); a metadata step's is dated by datedHistory(), as BuildKit does.
   */
  addHistory(createdBy: string, emptyLayer: boolean, created?: Date): void {
    const entry: { created?: string; created_by: string; comment: string; empty_layer?: boolean } = {
      created_by: createdBy,
      comment: "buildkit.dockerfile.v0",
    };
    if (emptyLayer) entry.empty_layer = true;
    else entry.created = (created ?? new Date()).toISOString();
    this.config.history = [...(this.config.history ?? []), entry];
  }

  /**
   * Dates this stage's metadata entries as BuildKit's exporter does: each gets the time of the layer
   * before it, those before the first new layer that layer's time (now, if the stage made none). So
   * a rebuild whose steps all come from the cache writes the same config, and the image keeps its ID.
   */
  datedHistory(now: Date): void {
    const history = this.config.history ?? [];
    const own = history.slice(this.historyFrom);
    let previous = own.find((h) => h.created !== undefined)?.created ?? now.toISOString();
    for (const h of own) {
      if (h.created === undefined) h.created = previous;
      else previous = h.created;
    }
  }
}

/** A deep copy of a base image's config, reset for a new image built on it. */
export function configForNewImage(base: ImageConfig | undefined, platform?: { os: string; architecture: string; variant?: string }): ImageConfig {
  const copy: ImageConfig = base
    ? (JSON.parse(JSON.stringify(base)) as ImageConfig)
    : { // scratch: as BuildKit's emptyImage, for the stage's platform
      architecture: platform?.architecture ?? "amd64", os: platform?.os ?? "linux", ...(platform?.variant ? { variant: platform.variant } : {}),
      rootfs: { type: "layers", diff_ids: [] }, config: { WorkingDir: "/" },
    };
  const keep: ImageConfig = {
    architecture: copy.architecture || "amd64",
    os: copy.os || "linux",
    ...(copy.variant ? { variant: copy.variant } : {}),
    config: copy.config ?? {},
    rootfs: { type: "layers", diff_ids: [...(copy.rootfs?.diff_ids ?? [])] },
    history: copy.history ?? [],
  };
  const run = withoutEmptyFields(keep.config as ContainerConfig);
  keep.config = run;
  if (!(run.Env ?? []).some((kv) => kv.startsWith("PATH="))) run.Env = [DEFAULT_PATH, ...(run.Env ?? [])];
  return keep;
}

/** Drops empty strings, nulls, empty lists and maps: Go's `omitempty`, as BuildKit writes the config. */
export function withoutEmptyFields(c: ContainerConfig): ContainerConfig {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(c)) {
    if (v === undefined || v === null || v === "" || v === false) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    if (typeof v === "object" && !Array.isArray(v) && Object.keys(v as object).length === 0) continue;
    out[k] = v;
  }
  return out as ContainerConfig;
}
