// `FROM NAME` where `--build-context NAME=DIR` (or a URL fetched into a folder) names a folder: the
// stage starts as BuildKit 0.13 starts it from dockerui's llb.Local — scratch's config (PATH and
// WorkingDir `/`, its emptyImage) and one layer holding the folder's files, with the folder's own
// .dockerignore applied (not the Dockerfile's), owned 0:0, modes and mtimes kept. The layer is an
// ordinary filesystem step keyed by the files' content (a rebuild without changes takes it from the
// cache; a changed file rebuilds it and says which). Like BuildKit's local source, it writes no history
// entry: the image exporter appends one for it (appendMissingHistory).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { sha256 } from "../common/digest.js";
import { ContextError, errnoCode } from "../common/errors.js";
import { makeContext, parseIgnoreText, type BuildContext } from "../cache/context.js";
import { IgnorePatternError } from "../cache/ignorepatterns.js";
import { digestPaths } from "../cache/filedigest.js";
import type { ImageConfig } from "../image/config.js";
import { copyIntoRootfs } from "./copy/copy.js";
import { matchSources } from "./copy/match.js";
import type { StepInfo } from "./events.js";
import { runFilesystemStep, type StepOutcome } from "./fsstep.js";
import type { BuildSession } from "./session.js";
import { StageState, configForNewImage } from "./state.js";
import type { Platform } from "../runtime/platform.js";
import type { FetchedFrom } from "./namedcontexts.js";

/** What a named folder context stands for as a base (builder/namedcontexts.ts sets it on the stage). */
export interface NamedFolderBase {
  /** The context's name, lower-cased, as --build-context gave it. */
  name: string;
  path: string;
  fetched?: FetchedFrom;
}

/** BuildKit's names for the source: its progress line and the layer's (the exporter's history entry). */
export function namedFolderNames(base: NamedFolderBase): { shown: string; layer: string } {
  if (base.fetched?.kind === "git") return { shown: `[internal] load git source ${base.fetched.url}`, layer: `git snapshot for ${base.fetched.url}` };
  if (base.fetched?.kind === "http") return { shown: `[context ${base.name}] ${base.fetched.url}`, layer: `http url ${base.fetched.url}` };
  return { shown: `[context ${base.name}] load from client`, layer: `local source for ${base.name}` };
}

/**
 * The folder with its own .dockerignore (dockerui reads NAME's .dockerignore for a named local
 * context); a fetched one (git, http) as it is.
 */
export async function openNamedFolder(path: string, fetched: boolean): Promise<BuildContext> {
  const ignoreFile = join(path, ".dockerignore");
  let text: string | undefined;
  try {
    if (!fetched) text = await readFile(ignoreFile, "utf8");
  } catch (e) {
    if (errnoCode(e) !== "ENOENT") throw e;
  }
  try {
    return makeContext(path, ignoreFile, text === undefined ? undefined : ignoreFile, parseIgnoreText(text ?? ""));
  } catch (e) {
    if (e instanceof IgnorePatternError) throw new ContextError(ignoreFile, `${ignoreFile}: ${e.message}`);
    throw e;
  }
}

/**
 * The stage's starting state: scratch plus the folder's layer, as the FROM step `info` (its step-done
 * is reported here: cached, or rebuilt with the reason).
 */
export async function namedFolderState(
  session: BuildSession, name: string, index: number, platform: Platform, base: NamedFolderBase, info: StepInfo,
): Promise<{ state: StageState; outcome: StepOutcome }> {
  const config: ImageConfig = configForNewImage(undefined, platform);
  const state = new StageState(name, index, config, [], null, sha256(`named context ${base.name}`));
  const folder = await openNamedFolder(base.path, base.fetched !== undefined);
  const place = { file: info.place.file, line: info.place.line };
  const sources = await matchSources(folder.dir, ["."], folder.filter, place, "COPY", (d) => folder.mustDescend(d));
  const inputs = await digestPaths(folder.dir, sources, folder, session.digests);
  const outcome = await runFilesystemStep(session, state, {
    info,
    // the folder's content alone: the same files under another name or path are the same layer
    record: { instruction: "FROM", text: "FROM named context", definition: { namedContext: base.fetched?.kind ?? "local" }, buildArgs: {}, inputs },
    description: namedFolderNames(base).layer,
    work: async (rootfs) => copyIntoRootfs({
      sourceRoot: folder.dir,
      filter: folder.filter,
      mustDescend: (d) => folder.mustDescend(d),
      fromContext: true,
      sources,
      inline: [],
      destRoot: rootfs,
      dest: "/",
      workdir: "/",
      add: false,
      place,
    }),
  });
  if (outcome.kind === "built") await outcome.finish();
  return { state, outcome };
}

/**
 * BuildKit's image exporter (normalizeLayersAndHistory): when the history has fewer entries with a
 * layer than the image has layers, entries for the last ones are appended, named by the step that
 * made each (its progress name) and dated by it. A named folder's layer has none, so an image on it
 * ends with an entry named after its last layer's step (`[2/3] COPY f.txt /g.txt`, or `local source
 * for NAME` when that is the folder's own). Only the last layer's name is kept, so one missing entry
 * (the folder's) is appended; any other count is left as it is.
 */
export function appendMissingHistory(config: ImageConfig, lastLayer: { name: string; created: string } | undefined): ImageConfig {
  const history = config.history ?? [];
  const withLayer = history.filter((h) => h.empty_layer !== true).length;
  if (lastLayer === undefined || config.rootfs.diff_ids.length - withLayer !== 1) return config;
  return { ...config, history: [...history, { created: lastLayer.created, created_by: lastLayer.name, comment: "buildkit.exporter.image.v0" }] };
}
