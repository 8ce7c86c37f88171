// `--from=NAME` of COPY and RUN --mount: an earlier stage's result or an image, mounted read-only.
import { DockerfileError, ImageNotFoundError, ImageReferenceError, type SourcePlace } from "../../common/errors.js";
import { mountSpec, type Mounted } from "../../runtime/mountspec.js";
import type { StepContext } from "./context.js";
import { PlanDepends } from "../planmode.js";
import { topChainId } from "../../image/config.js";
import type { BuildContext } from "../../cache/context.js";
import { openNamedFolder } from "../namedbase.js";

export interface FromSource {
  /** The mounted rootfs. */
  root: string;
  /** What a cache key says about it: "stage", or the image's config digest. */
  kind: string;
  /** Which result it is: the stage's snapshot chain, the image's config digest, or the named folder. */
  identity: string;
  /** A folder given with --build-context: its own .dockerignore says which of its files are seen. */
  folder?: BuildContext;
  release(): Promise<void>;
}

/** `what` names the flag in errors: `COPY --from=x`, `RUN --mount from=x`. */
export async function openFromSource(ctx: StepContext, from: string, place: SourcePlace, what: string): Promise<FromSource> {
  const { session } = ctx;
  const stageIndex = ctx.findStage(from);
  const named = stageIndex === undefined ? session.settings.namedContexts?.get(from.toLowerCase()) : undefined;
  // a folder given with --build-context: its files (their content keys the step) less what its own
  // .dockerignore leaves out, as BuildKit's named local context (a fetched one has none)
  if (named?.kind === "dir") {
    const folder = await openNamedFolder(named.path, named.fetched !== undefined);
    return { root: folder.dir, kind: "named-context", identity: `dir:${named.path}`, folder, release: async () => {} };
  }
  const imageRef = named?.kind === "image" ? named.ref : from;
  let mounted: Mounted;
  let kind: string;
  let identity: string;
  if (stageIndex !== undefined) {
    const result = await ctx.stageResult(stageIndex);
    // tsbuild plan: the files of a stage that will rebuild are not known before it has
    if (result.planned !== undefined && result.planned !== "cached") throw new PlanDepends(`stage ${from}, which will ${result.planned === "rebuild" ? "rebuild" : "be decided when built"}`);
    // after hits from --cache-from, the stage's chain may only be named: made here (a plan makes no snapshot)
    if (session.settings.plan && result.chainId !== null && !(await session.snapshotter.has(result.chainId))) {
      throw new PlanDepends(`stage ${from}, whose files are not unpacked yet`);
    }
    await session.materialize(result, ctx.info);
    mounted = await mountSpec(await session.snapshotter.view(result.chainId), session.paths.tmp);
    kind = "stage";
    identity = result.chainId ?? "scratch";
  } else {
    let image;
    try {
      image = await session.hold(async () => { // resolved and pinned before a prune can take it
        const found = await session.store.resolveImage(imageRef);
        await session.pinImage(found);
        return found;
      });
    } catch (e) {
      if (e instanceof ImageNotFoundError || e instanceof ImageReferenceError) {
        throw new DockerfileError(place, `${what}: no stage or image named ${from} (${e.message})`);
      }
      throw e;
    }
    const top = topChainId(image.config.rootfs.diff_ids);
    if (session.settings.plan && top !== null && !(await session.snapshotter.has(top))) {
      throw new PlanDepends(`image ${imageRef}, which is not unpacked yet`); // a plan writes no snapshot
    }
    const chain = await session.ensureUnpacked(image.manifest.layers, image.config.rootfs.diff_ids, ctx.info);
    mounted = await mountSpec(await session.snapshotter.view(chain), session.paths.tmp);
    kind = image.configDigest;
    identity = image.configDigest;
  }
  return { root: mounted.rootfs, kind, identity, release: () => mounted.unmount() };
}
