// ADD of a git repository (`ADD https://host/repo.git#ref:subdir /dest`, `git@host:repo.git`,
// `git://…`): the ref is resolved to a commit on every build (as BuildKit's git source does), and the
// commit keys the step, so an unchanged ref is a cache hit without fetching; a miss checks the commit
// out (runtime/git.ts) and copies the tree into the destination as COPY copies a folder's contents.
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { sha256 } from "../../common/digest.js";
import { DockerfileError, UserError } from "../../common/errors.js";
import { ownedName } from "../../common/owner.js";
import { checkoutGit, parseGitSource, resolveGitCommit, type GitSource } from "../../runtime/git.js";
import { resolveChown } from "../../runtime/user.js";
import { copyIntoRootfs } from "../copy/copy.js";
import { excludeMatcher } from "../copy/exclude.js";
import type { AddInstruction } from "../instructions/index.js";
import { runFilesystemStep, type StepOutcome } from "../fsstep.js";
import type { StepContext } from "./context.js";
import { PlanDepends } from "../planmode.js";
import { copyCreatedBy } from "./history.js";
import { unknownOwnerWarning } from "./ownerwarning.js";

/** The repository this ADD takes, if its source is one. */
export function addsFromGit(instr: AddInstruction): GitSource | undefined {
  const found = instr.sources.map(parseGitSource);
  if (found.every((g) => g === undefined)) return undefined;
  if (instr.sources.length !== 1) throw new DockerfileError(instr.place, "ADD of a git repository takes that one source only");
  return found[0];
}

export async function dispatchAddGit(ctx: StepContext, instr: AddInstruction, src: GitSource, chmod: number | undefined): Promise<StepOutcome> {
  const { session, state } = ctx;
  const place = { file: instr.place.file, line: instr.place.line };
  if (instr.checksum !== undefined) throw new DockerfileError(place, "checksum can't be specified for non-HTTP sources");
  if (session.settings.plan) throw new PlanDepends(`the commit ${src.remote.slice(0, 200)}${src.ref ? `#${src.ref.slice(0, 100)}` : ""} resolves to`);
  // an ssh remote takes the agent of `--ssh default` when the build has one, as BuildKit's git source
  // does; without it, the user's own ssh setup (SSH_AUTH_SOCK, ~/.ssh/config, GIT_SSH_COMMAND)
  const sshAuthSock = session.settings.ssh?.get("default");
  const access = sshAuthSock !== undefined ? { sshAuthSock } : {};
  let commit: string;
  try {
    commit = await resolveGitCommit(src, access);
  } catch (e) {
    if (e instanceof UserError) throw new DockerfileError(place, `ADD ${e.message}`);
    throw e;
  }
  const source = instr.sources[0] as string;
  const exclude = excludeMatcher(instr.excludes, place);
  const scratch = join(session.paths.tmp, ownedName("addgit"));
  try {
    return await runFilesystemStep(session, state, {
      info: ctx.info,
      record: {
        instruction: instr.kind,
        text: instr.original,
        definition: {
          from: "git", remote: src.remote, subdir: src.subdir ?? "", keepGitDir: instr.keepGitDir, dest: instr.dest, workdir: state.workdir, chown: instr.chown ?? null, chmod: chmod ?? null,
          ...(instr.excludes.length > 0 ? { excludes: instr.excludes } : {}),
        },
        buildArgs: {},
        // the commit stands for the tree: a new commit on the ref is reported as "<source> changed"
        inputs: { digest: sha256(`git\0${src.remote}\0${commit}`), files: [{ path: source, digest: sha256(commit), mode: 0o755, type: "file" }] },
      },
      createdBy: copyCreatedBy(instr),
      work: async (rootfs) => {
        await mkdir(scratch, { recursive: true });
        const tree = join(scratch, "tree");
        try {
          await checkoutGit(src, commit, tree, { keepGitDir: instr.keepGitDir, ...access });
        } catch (e) {
          if (e instanceof UserError) throw new DockerfileError(place, `ADD ${e.message}`);
          throw e;
        }
        const chown = instr.chown === undefined ? undefined : await resolveChown(rootfs, instr.chown, unknownOwnerWarning(ctx, instr.place, "--chown"));
        await copyIntoRootfs({
          sourceRoot: tree,
          fromContext: true, // the checkout's files are 0:0 unless --chown, as BuildKit's git source makes them
          sources: ["."],
          ...(exclude ? { exclude } : {}), // --exclude: below the repository's root, as BuildKit copies it
          destRoot: rootfs,
          dest: instr.dest,
          workdir: state.workdir,
          ...(chown ? { chown } : {}),
          ...(chmod !== undefined ? { chmod } : {}),
          add: false,
          place,
        });
      },
    });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
