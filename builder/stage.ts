// Builds one stage: resolves its base (an image, scratch or an earlier stage), runs the base's
// ONBUILD triggers, then dispatches each instruction to its module, in order.
import { sha256, type Digest } from "../common/digest.js";
import { DockerfileError, ImageNotFoundError, ImageReferenceError, UserError } from "../common/errors.js";
import { tryParseReference } from "../image/reference.js";
import type { ContentStore, ImageRecord } from "../image/store.js";
import { parseDockerfile } from "./parser/index.js";
import { expandInstruction, parseInstruction, type Instruction } from "./instructions/index.js";
import type { StepInfo } from "./events.js";
import type { BuildPlan, StagePlan } from "./plan.js";
import { findStage, metaLookup, stageReferences } from "./plan.js";
import type { BuildSession } from "./session.js";
import { StageState, configForNewImage } from "./state.js";
import type { StageResult } from "./stageresult.js";
import type { StepContext } from "./dispatch/context.js";
import { dispatch } from "./dispatch/index.js";
import { assertBasePlatform, stagePlatform } from "./stageplatform.js";
import { PlanDepends } from "./planmode.js";
import { chainIds, topChainId } from "../image/config.js";
import { formatPlatform, hostPlatform, type Platform } from "../runtime/platform.js";
import type { BuiltStep } from "./fsstep.js";
import { namedFolderNames, namedFolderState } from "./namedbase.js";
import { monotonicMs } from "../common/clock.js";
import { traced } from "../common/trace.js";

const FILESYSTEM_KINDS = new Set(["RUN", "COPY", "ADD", "WORKDIR"]);

export interface StageRunner {
  session: BuildSession;
  plan: BuildPlan;
  buildArgs: Record<string, string>;
  consumedArgs: Set<string>;
  escape: string;
  result(index: number): Promise<StageResult>;
}

function stepInfo(plan: StagePlan, ordinal: number, total: number, instr: Instruction, fsKind: boolean, shown: StepInfo["shown"], uses: string[] = []): StepInfo {
  return {
    id: `s${plan.stage.index}.${ordinal}`,
    stage: plan.displayName,
    stageIndex: plan.stage.index,
    index: ordinal,
    total,
    instruction: instr.original,
    place: { file: instr.place.file, line: instr.place.line },
    filesystem: fsKind,
    shown,
    ...(uses.length > 0 ? { uses } : {}),
  };
}

/** The report names of the earlier stages an instruction reads (COPY --from, RUN --mount from=). */
function stagesUsed(runner: StageRunner, index: number, instr: Instruction): string[] {
  const lookup = metaLookup(runner.plan.metaArgs, runner.plan.automaticArgs);
  const stages = runner.plan.stages;
  const used = stageReferences(instr, lookup, runner.escape)
    .map((ref) => findStage(stages.map((p) => p.stage), ref, index, true))
    .filter((i): i is number => i !== undefined)
    .map((i) => stages[i]!.displayName);
  return [...new Set(used)];
}

/** The same for an ONBUILD trigger, which the plan has not expanded yet: a bad one fails when it runs, with its line. */
function triggerStagesUsed(runner: StageRunner, index: number, trigger: Instruction): string[] {
  try {
    return stagesUsed(runner, index, trigger);
  } catch (e) {
    if (e instanceof DockerfileError) return [];
    throw e;
  }
}

/** FROM as BuildKit's progress shows it: the base's full reference, its variables expanded. */
function fromText(plan: StagePlan): string {
  if (plan.namedFolder !== undefined) return namedFolderNames(plan.namedFolder).shown;
  if (plan.baseStage !== undefined || plan.baseName.toLowerCase() === "scratch") return `FROM ${plan.baseName}`;
  return `FROM ${tryParseReference(plan.baseName)?.full ?? plan.baseName}`;
}

/** The base image of a stage from the store, or a DockerfileError naming the FROM line. */
export async function resolveBase(store: ContentStore, plan: StagePlan): Promise<ImageRecord> {
  try {
    return await store.resolveImage(plan.baseName);
  } catch (e) {
    if (e instanceof ImageNotFoundError || e instanceof ImageReferenceError) {
      const detail = e instanceof ImageNotFoundError
        ? `base image ${plan.baseName} not found in the store (load it with \`tsbuild load\` or \`tsbuild import\`)`
        : `base image ${plan.baseName}: ${e.message}`;
      throw new DockerfileError(plan.stage.from.place, detail);
    }
    throw e;
  }
}

/** The stage's starting state; `from` (the FROM step) hears how unpacking the base goes. */
async function baseState(runner: StageRunner, plan: StagePlan, from: StepInfo): Promise<StageState> {
  const { session } = runner;
  const name = plan.displayName;
  if (plan.baseStage !== undefined) {
    const base = await runner.result(plan.baseStage);
    const state = new StageState(name, plan.stage.index, configForNewImage(base.config), [...base.layers], base.chainId, base.key);
    state.lastLayer = base.lastLayer;
    state.planned = base.planned ?? "cached";
    state.inheritArgs(base.args);
    return state;
  }
  const platform = stagePlatform(plan, session.settings.targetPlatform);
  if (plan.namedFolder !== undefined) return (await namedFolderState(session, name, plan.stage.index, platform, plan.namedFolder, from)).state;
  if (plan.baseName.toLowerCase() === "scratch") {
    // a RUN on scratch runs the platform's binaries: another platform's scratch is another cache root
    const root = formatPlatform(platform) === formatPlatform(hostPlatform()) ? "scratch" : `scratch ${formatPlatform(platform)}`;
    return new StageState(name, plan.stage.index, configForNewImage(undefined, platform), [], null, sha256(root));
  }
  if (session.settings.plan && !(await hasImage(session.store, plan.baseName))) {
    // a build would pull it first: what its steps will do cannot be told before
    const state = new StageState(name, plan.stage.index, configForNewImage(undefined, platform), [], null, sha256(`missing ${plan.baseName}`));
    state.planned = "depends";
    return state;
  }
  // the record resolved and pinned before any stage ran (build.ts): a tag moved or removed since does not change it
  const listed = session.bases.get(plan.baseName) ?? (await resolveBase(session.store, plan));
  // a multi-platform base gives the stage's platform's image; a single-platform one must be of it
  const image = listed.index !== undefined ? await forPlatformAt(session.store, listed, platform, plan) : listed;
  assertBasePlatform(plan, image.config, platform);
  // a plan computes the base's chain without unpacking it (it writes no snapshot)
  const key = sha256(`image ${image.configDigest}`);
  // the first steps' --cache-from layers download while the base unpacks (a stage built without the cache uses none)
  if (!session.noCacheFor(name)) session.prefetchAfter(key);
  // With a --cache-from cache the base is unpacked by the first step that runs on it (session.materialize):
  // a build whose steps all come from the shared cache unpacks nothing, as BuildKit's lazy refs
  const lazy = session.settings.plan || (session.imported.length > 0 && !session.noCacheFor(name));
  if (!session.settings.plan) await baseLayersThere(session, image, plan);
  const chainId = lazy ? topChainId(image.config.rootfs.diff_ids) : await traced("base unpack", () => session.ensureUnpacked(image.manifest.layers, image.config.rootfs.diff_ids, from));
  const state = new StageState(name, plan.stage.index, configForNewImage(image.config), [...image.manifest.layers], chainId, key);
  state.unpackStep = from;
  return state;
}

/**
 * Every base layer not unpacked yet still has its blob (one removed by hand: a pinned one is never
 * collected): else the build fails naming the image, before anything is opened.
 */
async function baseLayersThere(session: BuildSession, image: ImageRecord, plan: StagePlan): Promise<void> {
  const chains = chainIds(image.config.rootfs.diff_ids);
  for (const [i, layer] of image.manifest.layers.entries()) {
    if (await session.snapshotter.has(chains[i] as Digest)) continue;
    if (!(await session.store.has(layer.digest))) {
      throw new DockerfileError(plan.stage.from.place, `base image ${plan.baseName}: its layer ${layer.digest} was removed from the store while the build used it; build again`);
    }
  }
}

async function forPlatformAt(store: ContentStore, rec: ImageRecord, platform: Platform, plan: StagePlan): Promise<ImageRecord> {
  try {
    return await store.forPlatform(rec, platform, plan.baseName);
  } catch (e) {
    if (e instanceof UserError) throw new DockerfileError(plan.stage.from.place, `base image ${plan.baseName}: ${e.message}`);
    throw e;
  }
}

async function hasImage(store: ContentStore, name: string): Promise<boolean> {
  try {
    await store.resolveImage(name);
    return true;
  } catch (e) {
    if (e instanceof ImageNotFoundError) return false;
    throw e;
  }
}

/** The base image's ONBUILD triggers, parsed as instructions placed at the FROM line. */
function onbuildTriggers(state: StageState, plan: StagePlan): Instruction[] {
  const triggers = state.containerConfig.OnBuild ?? [];
  if (triggers.length === 0) return [];
  state.containerConfig.OnBuild = null;
  const file = plan.stage.from.place.file;
  return triggers.map((text) => {
    const parsed = parseDockerfile(text, file);
    const node = parsed.nodes[0];
    if (!node || parsed.nodes.length !== 1) throw new DockerfileError(plan.stage.from.place, `invalid ONBUILD trigger in base image: ${text}`);
    const instr = parseInstruction({ ...node, startLine: plan.stage.from.place.line, endLine: plan.stage.from.place.line }, file);
    return { ...instr, original: `ONBUILD ${instr.original}` } as Instruction;
  });
}

export async function runStage(runner: StageRunner, index: number): Promise<StageResult> {
  const { session } = runner;
  const plan = runner.plan.stages[index]!;
  const total = plan.stage.instructions.length + 1;
  // Progress numbers FROM and the filesystem steps only (BuildKit's `[2/4]`), metadata steps take the
  // number of the step before them.
  const count = 1 + plan.stage.instructions.filter((i) => FILESYSTEM_KINDS.has(i.kind)).length;
  const fromUses = plan.baseStage !== undefined ? [runner.plan.stages[plan.baseStage]!.displayName] : [];
  // a named folder's FROM is BuildKit's `[context NAME] load from client`, unnumbered: the steps after it count from 1
  const fromPosition = plan.namedFolder !== undefined ? 0 : 1;
  // BuildKit names the stage in its labels only when the Dockerfile has several (`[stage-1 2/3]`)
  const prefix = runner.plan.stages.length > 1 ? `${plan.displayName} ` : "";
  const fromInfo = stepInfo(plan, 1, total, plan.stage.from, plan.namedFolder !== undefined, { position: fromPosition, count, text: fromText(plan), prefix }, fromUses);
  session.emit({ type: "step-start", step: fromInfo });
  const started = monotonicMs();
  let state: StageState;
  try {
    state = await baseState(runner, plan, fromInfo);
  } catch (e) {
    session.emit({ type: "step-error", step: fromInfo, message: e instanceof Error ? e.message : String(e) });
    throw e;
  }
  // a named folder's layer step has reported itself (namedbase.ts)
  if (plan.namedFolder === undefined) session.emit({ type: "step-done", step: fromInfo, result: { cached: true, durationMs: monotonicMs() - started } });

  const ctx = (info: StepInfo, after: BuiltStep | undefined): StepContext => ({
    session,
    state,
    info,
    buildArgs: runner.buildArgs,
    metaArgs: runner.plan.metaArgs,
    automaticArgs: runner.plan.automaticArgs,
    consumedArgs: runner.consumedArgs,
    stageResult: (i) => runner.result(i),
    findStage: (ref) => findStage(runner.plan.stages.map((p) => p.stage), ref, index, true),
    escape: runner.escape,
    ...(after === undefined ? {} : { after }),
  });

  const steps: Array<{ instr: Instruction; info: StepInfo }> = [];
  for (const trigger of onbuildTriggers(state, plan)) {
    steps.push({ instr: trigger, info: { ...stepInfo(plan, 1, total, trigger, FILESYSTEM_KINDS.has(trigger.kind), { position: fromPosition, count, text: trigger.original, prefix }, triggerStagesUsed(runner, index, trigger)), id: `s${index}.t${steps.length}` } });
  }
  let position = fromPosition;
  plan.stage.instructions.forEach((instr, i) => {
    const fs = FILESYSTEM_KINDS.has(instr.kind);
    if (fs) position++;
    steps.push({ instr, info: stepInfo(plan, i + 2, total, instr, fs, { position, count, text: instr.original, prefix }, stagesUsed(runner, index, instr)) });
  });

  /** The last step when it was built and its finish (layer, commit, cache entry) has not run yet. */
  let unfinished: BuiltStep | undefined;
  try {
    for (const { instr, info } of steps) {
      session.settings.signal.throwIfAborted();
      // When a built step is finished, decided here only: a RUN or a COPY goes first, over the
      // unfinished snapshot, and starts the finish once its work has started (a RUN's container, a
      // COPY's copying: writing a layer then costs nothing while they run; each has it finished before
      // it returns); anything else waits for it (an ADD, WORKDIR or cache hit goes on the committed
      // chain, a metadata step's history entry comes after the layer's).
      const after = instr.kind === "RUN" || instr.kind === "COPY" ? unfinished : undefined;
      if (after === undefined) await unfinished?.finish();
      const t0 = monotonicMs();
      if (info.filesystem) session.emit({ type: "step-start", step: info });
      try {
        const { instruction, used } = expandInstruction(instr, state.lookup, runner.escape);
        const outcome = await dispatch(ctx(info, after), instruction, used);
        unfinished = outcome?.kind === "built" ? outcome : undefined;
      } catch (e) {
        if (e instanceof PlanDepends) {
          // tsbuild plan: this step's key needs what only a build can tell; so do the keys after it
          state.planned = "depends";
          session.emit({ type: "step-done", step: info, result: { cached: false, planned: "depends", reason: e.message, durationMs: monotonicMs() - t0 } });
          continue;
        }
        if (!info.filesystem) session.emit({ type: "step-start", step: info });
        session.emit({ type: "step-error", step: info, message: e instanceof Error ? e.message : String(e) });
        throw e;
      }
      if (!info.filesystem) session.emit({ type: "step-done", step: info, result: { cached: true, durationMs: monotonicMs() - t0 } });
    }
    await unfinished?.finish();
  } catch (e) {
    // A step built before the failure is finished all the same (its layer is worth keeping for the
    // next build); the failure is the one to report.
    await unfinished?.finish().catch(() => undefined);
    throw e;
  }
  state.datedHistory(new Date());
  return {
    config: state.config, layers: state.layers, chainId: state.chainId, key: state.key, args: state.args,
    ...(state.lastLayer !== undefined ? { lastLayer: state.lastLayer } : {}),
    ...(session.settings.plan ? { planned: state.planned } : {}),
  };
}
