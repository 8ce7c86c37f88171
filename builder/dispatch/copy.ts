// COPY and ADD: files from the build context, another stage or an image into the stage's rootfs.
// The key covers the content of what is copied (never mtimes or owners in the context), the flags and
// the destination; build args count only when the instruction's text uses them.
import { DockerfileError } from "../../common/errors.js";
import { resolveChown } from "../../runtime/user.js";
import { digestPaths, type PathFilter } from "../../cache/filedigest.js";
import { assertLocalSource, copyIntoRootfs } from "../copy/copy.js";
import { matchSources } from "../copy/match.js";
import { excludeMatcher, sourceBases, withExcludes } from "../copy/exclude.js";
import { matchParents, parentsInputs } from "../copy/parents.js";
import type { AddInstruction, CopyInstruction } from "../instructions/index.js";
import { copyWithFastPath } from "../fastcopy.js";
import { runFilesystemStep, type StepOutcome } from "../fsstep.js";
import type { StepContext } from "./context.js";
import { openFromSource } from "./fromsource.js";
import { openNamedFolder } from "../namedbase.js";
import { copyCreatedBy } from "./history.js";
import { addsFromUrls, dispatchAddUrls } from "./addurl.js";
import { addsFromGit, dispatchAddGit } from "./addgit.js";
import { unknownOwnerWarning } from "./ownerwarning.js";

interface SourceRoot {
  root: string;
  filter?: (rel: string) => boolean;
  /** Context: whether an ignored folder may hold re-included files (`!` exceptions). */
  mustDescend?: (relDir: string) => boolean;
  digestFilter?: PathFilter;
  fromContext: boolean;
  /** What the key says about the source: "context", "stage", or the image's id. */
  kind: string;
  release(): Promise<void>;
}

async function openSource(ctx: StepContext, instr: CopyInstruction | AddInstruction): Promise<SourceRoot> {
  const { session } = ctx;
  const from = instr.kind === "COPY" ? instr.from : undefined;
  if (from === undefined) {
    const c = session.context;
    return { root: c.dir, filter: c.filter, mustDescend: (d) => c.mustDescend(d), digestFilter: c, fromContext: true, kind: "context", release: async () => {} };
  }
  // a folder given with --build-context: with its own .dockerignore applied, as BuildKit's named local context (not a fetched one)
  const named = ctx.findStage(from) === undefined ? session.settings.namedContexts?.get(from.toLowerCase()) : undefined;
  if (named?.kind === "dir") {
    const c = await openNamedFolder(named.path, named.fetched !== undefined);
    return { root: c.dir, filter: c.filter, mustDescend: (d) => c.mustDescend(d), digestFilter: c, fromContext: false, kind: "named-context", release: async () => {} };
  }
  const src = await openFromSource(ctx, from, instr.place, `COPY --from=${from}`);
  return { root: src.root, fromContext: false, kind: src.kind, release: src.release };
}

function parseChmod(instr: CopyInstruction | AddInstruction): number | undefined {
  if (instr.chmod === undefined) return undefined;
  if (!/^[0-7]{1,4}$/.test(instr.chmod)) {
    throw new DockerfileError(instr.place, `invalid chmod parameter ${JSON.stringify(instr.chmod)}: must be an octal number`);
  }
  return Number.parseInt(instr.chmod, 8);
}

export async function dispatchCopy(ctx: StepContext, instr: CopyInstruction | AddInstruction, used: Set<string>): Promise<StepOutcome> {
  const { session, state } = ctx;
  const place = { file: instr.place.file, line: instr.place.line };
  const chmod = parseChmod(instr);
  const exclude = excludeMatcher(instr.excludes, place, (message) => session.emit({ type: "warning", place, message }));
  const parents = instr.kind === "COPY" && instr.parents;
  const repository = instr.kind === "ADD" ? addsFromGit(instr) : undefined;
  if (instr.kind === "ADD" && repository !== undefined) return dispatchAddGit(ctx, instr, repository, chmod);
  if (instr.kind === "ADD" && addsFromUrls(instr)) return dispatchAddUrls(ctx, instr, chmod);
  if (instr.kind === "ADD") {
    for (const s of instr.sources) assertLocalSource(s, place);
    if (instr.checksum !== undefined) throw new DockerfileError(instr.place, "checksum can't be specified for non-HTTP sources");
  }
  const source = await openSource(ctx, instr);
  try {
    const visibility = { ...(source.filter ? { filter: source.filter } : {}), ...(source.mustDescend ? { mustDescend: source.mustDescend } : {}) };
    const parentSources = parents ? await matchParents(source.root, instr.sources, visibility, exclude, place) : undefined;
    const matched = parents || instr.sources.length === 0 ? [] : await matchSources(source.root, instr.sources, source.filter, place, instr.kind, source.mustDescend);
    // --exclude: what the copy leaves out below each source is no input either (BuildKit's checksum
    // takes the same patterns), so a change there keeps the step cached; nor, with --parents, what the
    // patterns do not name
    const excluded = exclude === undefined ? undefined
      : withExcludes(visibility, exclude, parentSources ? parentSources.map((p) => p.base) : await sourceBases(source.root, matched));
    const parentInputs = parentSources ? parentsInputs(parentSources, excluded ?? visibility) : undefined;
    const digestFilter = parentInputs?.visibility ?? excluded ?? source.digestFilter;
    const inputs = await digestPaths(source.root, parentInputs?.paths ?? matched, digestFilter, session.digests);
    const args = state.argsWithValues();
    const buildArgs: Record<string, string> = {};
    for (const name of used) if (Object.hasOwn(args, name) && state.envValue(name) === undefined) buildArgs[name] = args[name]!;
    const inline = instr.contents.map((c) => ({ name: c.path, content: c.data }));
    return await runFilesystemStep(session, state, {
      info: ctx.info,
      record: {
        instruction: instr.kind,
        text: instr.original,
        definition: {
          from: source.kind,
          sources: instr.sources,
          inline,
          dest: instr.dest,
          workdir: state.workdir,
          chown: instr.chown ?? null,
          chmod: chmod ?? null,
          link: instr.link,
          // only when given, so that the keys of every other COPY stay as they were
          ...(instr.excludes.length > 0 ? { excludes: instr.excludes } : {}),
          ...(parents ? { parents: true } : {}),
        },
        buildArgs,
        inputs,
      },
      createdBy: copyCreatedBy(instr),
      work: async (rootfs, { upper, record, previous, started }) => {
        if (instr.kind === "COPY") started(); // the step before (unfinished: stage.ts) writes its layer meanwhile
        const chown = instr.chown === undefined ? undefined : await resolveChown(rootfs, instr.chown, unknownOwnerWarning(ctx, instr.place, "--chown"));
        // the fast path follows one plain source's walk: none with --parents or --exclude
        const sources = parentSources !== undefined || exclude !== undefined ? 0 : matched.length + inline.length;
        return copyWithFastPath(session, { record, previous, upper, sources }, (reuse) => copyIntoRootfs({
          sourceRoot: source.root,
          ...(source.filter ? { filter: source.filter } : {}),
          ...(source.mustDescend ? { mustDescend: source.mustDescend } : {}),
          fromContext: source.fromContext,
          sources: matched,
          ...(parentSources ? { parents: parentSources } : {}),
          ...(exclude ? { exclude } : {}),
          inline,
          destRoot: rootfs,
          dest: instr.dest,
          workdir: state.workdir,
          ...(chown ? { chown } : {}),
          ...(chmod !== undefined ? { chmod } : {}),
          add: instr.kind === "ADD",
          place,
          ...(reuse ? { reuse } : {}),
        }));
      },
    }, ctx.after === undefined ? {} : { after: ctx.after });
  } finally {
    await source.release();
  }
}
