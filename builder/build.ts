// One build, start to end: read the Dockerfile and context, plan the stages the target needs, build
// them (independent stages concurrently), then write the image and its tags into the store.
import { readFile, stat } from "node:fs/promises";
import { isAbsolute, relative, resolve } from "node:path";
import { ContextError, errnoCode } from "../common/errors.js";
import { storePaths } from "../common/storepaths.js";
import { ContentStore, tagReference } from "../image/store.js";
import { Snapshotter } from "../runtime/snapshotter.js";
import { sweepStale } from "../runtime/sweep.js";
import { openContext } from "../cache/context.js";
import { CacheIndex } from "../cache/index.js";
import { FileDigestCache } from "../cache/digestcache.js";
import { parseDockerfile } from "./parser/index.js";
import { parseStages } from "./instructions/index.js";
import { makePlan } from "./plan.js";
import { withoutEmptyFields } from "./state.js";
import { BuildSession } from "./session.js";
import { resolveBase, runStage, type StageRunner } from "./stage.js";
import { ensureBaseImages, type BasePullSettings } from "./basepull.js";
import type { StageResult } from "./stageresult.js";
import type { EventSink, StepInfo } from "./events.js";
import type { CacheSpec } from "../cache/remote/spec.js";
import type { UsedStep } from "../cache/remote/export.js";
import type { Descriptor } from "../image/config.js";
import type { SandboxOptions } from "../runtime/ocispec.js";
import { isProxyArg } from "./dispatch/proxyargs.js";
import { applyNamedContexts, type NamedContext } from "./namedcontexts.js";
import { appendMissingHistory } from "./namedbase.js";
import { assertRunnable, formatPlatform, hostPlatform, platformArgs, type Platform } from "../runtime/platform.js";
import { stagePlatform } from "./stageplatform.js";
import type { Digest } from "../common/digest.js";
import { traced, traceMark } from "../common/trace.js";
import { preloadSpawn } from "../runtime/container.js";
import { withSharedLock } from "../common/lock.js";
import { withLease } from "../common/pins.js";
import { testPause } from "../common/testpause.js";
import { StepsInFlight } from "./inflight.js";

export interface BuildRequest {
  root: string;
  contextDir: string;
  dockerfile: string;
  /** -f was given (the error for a missing file names it as given). */
  dockerfileGiven: boolean;
  /** The Dockerfile's name in errors when its path means nothing to the user (read from standard input). */
  dockerfileName?: string;
  tags: string[];
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  /** `--ssh` agent sockets by id, for RUN --mount=type=ssh. */
  ssh?: ReadonlyMap<string, string>;
  /** `--secret` values by id, for RUN --mount=type=secret. */
  secrets?: ReadonlyMap<string, Buffer>;
  target?: string;
  /** Pull base images the store lacks (with `always`, every base image's tag is looked up again). */
  basePull?: BasePullSettings;
  network: "host" | "none";
  /** --add-host, --shm-size, --ulimit for every RUN. */
  sandbox?: SandboxOptions;
  /** Entitlements given with --allow (buildx's): "security.insecure" lets RUN --security=insecure run. */
  allow?: string[];
  noCache: boolean;
  /** --build-context NAME=VALUE, by lower-case NAME. */
  namedContexts?: ReadonlyMap<string, NamedContext>;
  /** --platform: the platform the image is for (this machine's by default). */
  platform?: Platform;
  /** --platform a,b: several platforms, built side by side into one image index under the tags. */
  platforms?: Platform[];
  /** The steps the platforms of one multi-platform build are making (set by the build itself). */
  inflight?: StepsInFlight;
  /** --no-cache-filter: these stages (AS names) are built without the cache. */
  noCacheStages?: string[];
  /** Shared caches to look steps up in (--cache-from) and to export this build's steps to (--cache-to). */
  cacheFrom?: CacheSpec[];
  cacheTo?: CacheSpec[];
  signal: AbortSignal;
  onEvent: EventSink;
}

export interface BuildOutcome {
  imageId: string;
  manifestDigest: string;
  manifestDescriptor: Descriptor;
  /** The image's layers (diffIDs, bottom first): its snapshot chain in the store. */
  diffIds: Digest[];
  refs: string[];
  /** A multi-platform build: the image index under the tags (the fields above are its first platform's image). */
  index?: Descriptor;
  /** The manifests, configs and indexes of the images the build resolved (bases, --from images). */
  imageBlobs?: Digest[];
}

/** One platform's image, with the steps it used (the cache export of a multi-platform build takes them all). */
interface Built extends BuildOutcome {
  used: UsedStep[];
}

function displayName(dockerfile: string): string {
  const rel = relative(process.cwd(), dockerfile);
  return rel.startsWith("..") || isAbsolute(rel) ? dockerfile : rel;
}

async function readDockerfile(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ENOENT") throw new ContextError(path, `failed to read dockerfile: open ${displayName(path)}: no such file or directory`);
    if (code === "EISDIR") throw new ContextError(path, `failed to read dockerfile: ${displayName(path)} is a directory`);
    throw e;
  }
}

async function checkContext(dir: string): Promise<void> {
  try {
    if (!(await stat(dir)).isDirectory()) throw new ContextError(dir, `unable to prepare context: ${dir} is not a directory`);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") throw new ContextError(dir, `unable to prepare context: path "${dir}" not found`);
    throw e;
  }
}

export async function build(req: BuildRequest): Promise<BuildOutcome> {
  // What the build uses and makes is pinned (common/pins.ts) as it goes, each pin taken while the store
  // is held shared for a moment: a prune (which holds the store alone) runs beside the build and keeps
  // all of it; builds still run side by side
  const platforms = req.platforms ?? [];
  if (platforms.length > 1) return withLease(storePaths(req.root), () => buildIndex(req, platforms));
  const one = platforms[0] !== undefined ? { ...req, platform: platforms[0] } : req;
  const outcome = await withLease(storePaths(req.root), () => buildLocked(one, false));
  if (outcome === undefined) throw new Error("unreachable: a build gives an image");
  return outcome;
}

/**
 * Several platforms: built side by side, each written untagged, then one OCI image index naming each
 * image with its platform goes under the tags. A stage shared by all (`FROM --platform=$BUILDPLATFORM`)
 * has the same keys in each: one platform makes each of its steps while the others wait for that key
 * and take it from the cache (inflight.ts), so it is built once. A failing platform fails the build
 * once the others have stopped (none is left running with its mounts).
 */
async function buildIndex(req: BuildRequest, platforms: Platform[]): Promise<BuildOutcome> {
  const tags = req.tags.map(tagReference);
  for (const p of platforms) await planFor(req, p); // every platform is checked before any step
  const inflight = new StepsInFlight();
  const abort = new AbortController();
  const onAbort = (): void => abort.abort(req.signal.reason);
  req.signal.addEventListener("abort", onAbort, { once: true });
  let settled: PromiseSettledResult<Built | undefined>[];
  let firstFailure: { reason: unknown } | undefined; // the cause, not the others' cancellation after it
  try {
    settled = await Promise.allSettled(platforms.map((platform) => {
      const onEvent = platformEvents(req.onEvent, formatPlatform(platform));
      const one = buildLocked({ ...req, platform, platforms: [platform], cacheTo: [], onEvent, inflight, signal: abort.signal }, false, true);
      one.catch((e: unknown) => { // one platform failing stops the others
        firstFailure ??= { reason: e };
        abort.abort();
      });
      return one;
    }));
  } finally {
    req.signal.removeEventListener("abort", onAbort);
  }
  if (firstFailure !== undefined) throw firstFailure.reason;
  const parts: Built[] = settled.map((s) => {
    const built = s.status === "fulfilled" ? s.value : undefined;
    if (built === undefined) throw new Error("unreachable: a build gives an image");
    return built;
  });
  const paths = storePaths(req.root);
  const store = await ContentStore.open(paths);
  const manifests = parts.map((b, i) => {
    const p = platforms[i] as Platform;
    return { ...b.manifestDescriptor, platform: { architecture: p.architecture, os: p.os, ...(p.variant ? { variant: p.variant } : {}) } };
  });
  // the index blob is written and listed in one shared hold (until listed, nothing else holds it)
  const index = await withLease(paths, (lease) => lease.hold(async () => {
    const written = await store.writeIndexBlob(manifests);
    await store.registerImages([{ manifest: written, tags }]);
    return written;
  }));
  req.onEvent({ type: "image", id: index.digest, manifestDigest: index.digest, refs: tags });
  if ((req.cacheTo ?? []).length > 0) {
    const { exportCaches } = await import("../cache/remote/session.js");
    const used = new Map(parts.flatMap((b) => b.used.map((u) => [u.entry.key, u] as const)));
    await exportCaches(req.cacheTo ?? [], used.values(), parts.map((b) => b.diffIds), store, paths.tmp, req.basePull?.registry ?? { storeRoot: req.root });
  }
  const first = parts[0] as Built;
  return { imageId: first.imageId, manifestDigest: first.manifestDigest, manifestDescriptor: first.manifestDescriptor, diffIds: first.diffIds, refs: tags, index };
}

/**
 * One platform's events of a multi-platform build: its stages named `linux/arm64 build` (BuildKit's
 * `[linux/arm64 build 2/3]`) and its step ids apart from the other platforms'.
 */
function platformEvents(sink: EventSink, label: string): EventSink {
  const mark = (s: StepInfo): StepInfo => ({ ...s, id: `${label} ${s.id}`, stage: `${label} ${s.stage}`, shown: { ...s.shown, prefix: `${label} ${s.shown.prefix}` }, ...(s.uses ? { uses: s.uses.map((u) => `${label} ${u}`) } : {}) });
  return (e) => {
    if (e.type === "plan") sink({ ...e, steps: e.steps.map(mark) });
    else if ("step" in e) sink({ ...e, step: mark(e.step) });
    else sink(e);
  };
}

/** The Dockerfile read, parsed and planned for `target`; a stage with RUN steps for a platform this machine cannot run fails here. */
async function planFor(req: BuildRequest, target: Platform) {
  await checkContext(req.contextDir);
  const text = await readDockerfile(req.dockerfile);
  const fileName = req.dockerfileName ?? displayName(req.dockerfile);
  const parsed = parseDockerfile(text, fileName);
  const stages = parseStages(parsed);
  const plan = makePlan(stages, req.buildArgs, req.target, parsed.escapeChar, fileName, platformArgs(target, hostPlatform()));
  for (const i of plan.needed) {
    const s = plan.stages[i] as (typeof plan.stages)[number];
    if (s.stage.instructions.some((instr) => instr.kind === "RUN")) assertRunnable(stagePlatform(s, target));
  }
  return { fileName, parsed, stages, plan };
}

/**
 * `tsbuild plan`: the build walked without running anything (builder/planmode.ts); each filesystem
 * step's decision is reported as a step-done event with `planned` set. Nothing is written.
 */
export async function planBuild(req: BuildRequest): Promise<void> {
  const platforms = req.platforms ?? [];
  await withSharedLock(storePaths(req.root).gcLock, async () => {
    if (platforms.length <= 1) return void (await buildLocked(req, true));
    // several platforms: each planned in turn, its steps named with its platform as a build names them
    for (const platform of platforms) {
      await buildLocked({ ...req, platform, platforms: [platform], onEvent: platformEvents(req.onEvent, formatPlatform(platform)) }, true);
    }
  });
}

/** One platform's build; `part` (one platform of several): the image is written untagged and no cache is exported. */
async function buildLocked(req: BuildRequest, planOnly: boolean, part = false): Promise<Built | undefined> {
  const target = req.platform ?? req.platforms?.[0] ?? hostPlatform();
  const { fileName, parsed, stages, plan } = await planFor(req, target);
  const tags = req.tags.map(tagReference); // a bad -t fails before any work
  if (req.namedContexts) applyNamedContexts(plan.stages, req.namedContexts);
  for (const w of [...parsed.warnings, ...stages.warnings]) req.onEvent({ type: "warning", message: w });

  const paths = storePaths(req.root);
  traceMark("start");
  // the first RUN's spawn loads child_process: done while the store and context are read instead
  if ([...plan.needed].some((i) => plan.stages[i]?.stage.instructions.some((ins) => ins.kind === "RUN"))) setImmediate(preloadSpawn);
  // what killed builds left behind is swept while the store, caches and base image are opened (it only
  // touches what dead processes own); it is done before any stage starts
  const sweep = traced("sweep", () => sweepStale(paths));
  sweep.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
  const store = await traced("store open", () => ContentStore.open(paths));
  const digests = await traced("digest cache load", () => FileDigestCache.load(paths.cache, { context: resolve(req.contextDir), scratchDir: paths.tmp }));
  const context = await traced("context open", () => openContext(req.contextDir, req.dockerfile));
  // one failing stage stops the others; the user's Ctrl-C stops all
  const abort = new AbortController();
  const onAbort = (): void => abort.abort(req.signal.reason);
  req.signal.addEventListener("abort", onAbort, { once: true });
  const session = new BuildSession(paths, store, new Snapshotter(paths), new CacheIndex(paths.cache, paths.tmp), digests, context, {
    network: req.network,
    ...(req.sandbox ? { sandbox: req.sandbox } : {}),
    ...(req.namedContexts ? { namedContexts: req.namedContexts } : {}),
    targetPlatform: target,
    allow: new Set(req.allow ?? []),
    ...(req.secrets ? { secrets: req.secrets } : {}),
    ...(req.ssh ? { ssh: req.ssh } : {}),
    noCache: req.noCache,
    ...(req.noCacheStages ? { noCacheStages: new Set(req.noCacheStages.map((s) => s.toLowerCase())) } : {}),
    signal: abort.signal,
    dockerfileName: fileName,
    dockerfilePath: req.dockerfile,
    ...(planOnly ? { plan: true } : {}),
  }, req.onEvent);
  session.claims = req.inflight?.claimant();

  // an unknown base image is pulled, or fails, before any stage runs, so the store is left as it was
  const bases = [...plan.needed].map((i) => plan.stages[i]!).filter((s) => s.baseStage === undefined && s.namedFolder === undefined && s.baseName.toLowerCase() !== "scratch");
  if (!planOnly) {
    // a plan pulls nothing; a build resolves (or pulls) and pins its bases in one shared hold of the
    // store, and its stages use these records: a base untagged or pruned afterwards is still this one
    await traced("resolve base", () => session.hold(async () => {
      await ensureBaseImages(store, bases, req.basePull);
      for (const s of bases) {
        if (session.bases.has(s.baseName)) continue;
        const rec = await resolveBase(store, s);
        await session.pinImage(rec);
        session.bases.set(s.baseName, rec);
      }
    }));
    await testPause("bases-pinned");
  }
  await sweep;

  // a corrupt or foreign --cache-from cache is refused here, before any stage runs
  const registryOptions = req.basePull?.registry ?? { storeRoot: req.root };
  const warn = (message: string): void => req.onEvent({ type: "warning", message });
  if (!req.noCache && !planOnly && (req.cacheFrom ?? []).length > 0) {
    const { importCaches } = await import("../cache/remote/session.js");
    const { LayerPrefetch } = await import("../cache/remote/prefetch.js");
    session.imported = await traced("cache-from load", () => importCaches(req.cacheFrom ?? [], registryOptions, warn));
    session.prefetch = new LayerPrefetch(store);
  }

  const results = new Map<number, Promise<StageResult>>();
  const runner: StageRunner = {
    session,
    plan,
    buildArgs: req.buildArgs,
    consumedArgs: new Set(Object.keys(req.buildArgs).filter((k) => plan.metaArgs.has(k))),
    escape: parsed.escapeChar,
    result: (i) => {
      let p = results.get(i);
      if (!p) {
        p = runStage(runner, i);
        p.catch(() => abort.abort());
        results.set(i, p);
      }
      return p;
    },
  };
  try {
    const all = [...plan.needed].sort((a, b) => a - b).map((i) => runner.result(i));
    const settled = await traced("stages", () => Promise.allSettled(all));
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed) throw failed.reason;
    const final = await runner.result(plan.target);
    await traced("digest cache save", () => digests.save());
    if (planOnly) return undefined;

    // BuildKit's predefined proxy args reach every RUN undeclared, and are never reported unused
    const unused = Object.keys(req.buildArgs).filter((k) => !runner.consumedArgs.has(k) && !isProxyArg(k));
    if (unused.length > 0) req.onEvent({ type: "warning", message: `one or more build args were not consumed: [${unused.sort().join(" ")}]` });

    // Dated by its last history entry (BuildKit's exporter): an all-cached rebuild keeps the image ID.
    // A named folder's layer has no entry of its own: the exporter's is appended first.
    const exported = appendMissingHistory(final.config, final.lastLayer);
    const config = { ...exported, created: exported.history?.at(-1)?.created ?? new Date().toISOString() };
    const labels = { ...(config.config?.Labels ?? {}), ...req.labels };
    config.config = withoutEmptyFields({ ...config.config, Labels: labels });
    const image = await traced("image write", () => session.hold(async () => {
      const written = await (part ? store.writeImage(config, final.layers) : store.putImage(config, final.layers, tags));
      await session.pin("manifest", [written.manifestDigest]); // an untagged platform image waits for its index
      return written;
    }));
    // The names this build was asked for, in -t order (BuildKit's `naming to`), not every tag the image has.
    if (!part) req.onEvent({ type: "image", id: image.configDigest, manifestDigest: image.manifestDigest, refs: tags });
    if ((req.cacheTo ?? []).length > 0) {
      const { exportCaches } = await import("../cache/remote/session.js");
      await exportCaches(req.cacheTo ?? [], session.usedSteps.values(), [config.rootfs.diff_ids], store, paths.tmp, registryOptions);
    }
    await session.prefetch?.discard();
    await session.removals.waitForAll();
    return { imageId: image.configDigest, manifestDigest: image.manifestDigest, manifestDescriptor: image.manifestDescriptor, diffIds: [...config.rootfs.diff_ids], refs: image.refs, used: [...session.usedSteps.values()], imageBlobs: [...session.imageBlobs] };
  } catch (e) {
    // the build's own failure is the one to report
    await session.prefetch?.discard().catch(() => undefined);
    await session.removals.waitForAll().catch(() => undefined);
    throw e;
  } finally {
    session.claims?.endAll();
    req.signal.removeEventListener("abort", onAbort);
  }
}
