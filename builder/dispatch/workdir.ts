// WORKDIR: sets the working directory and, unless it is "/", creates it (with its missing parents,
// owned by the stage's USER, resolved as BuildKit's file operations resolve an owner: an unknown name
// is 0, with a warning) as a filesystem step of its own, as BuildKit does.
import { chmod, chown, mkdir, stat } from "node:fs/promises";
import { posix } from "node:path";
import { DockerfileError, errnoCode } from "../../common/errors.js";
import { resolveInRoot, resolveInsideRoot } from "../../common/rootpath.js";
import { resolveChown } from "../../runtime/user.js";
import { unknownOwnerWarning } from "./ownerwarning.js";
import type { WorkdirInstruction } from "../instructions/index.js";
import { runFilesystemStep, type StepOutcome } from "../fsstep.js";
import type { StepContext } from "./context.js";

/**
 * BuildKit's system.NormalizeWorkdir: an absolute path is kept as written (`/a/b/` keeps its slash,
 * `/x/../y` its dots: that is the config's WorkingDir); a relative one is joined to the current one
 * and cleaned, as Go's path.Join does.
 */
export function normalizeWorkdir(current: string, path: string): string {
  const parent = current === "" ? "/" : current.startsWith("/") ? current : `/${current}`;
  const wanted = path === "" ? parent : path;
  if (wanted.startsWith("/")) return wanted;
  const joined = posix.normalize(`${parent}/${wanted}`);
  return joined.length > 1 && joined.endsWith("/") ? joined.slice(0, -1) : joined;
}

/** Undefined for `/`, which has no filesystem step. */
export async function dispatchWorkdir(ctx: StepContext, instr: WorkdirInstruction): Promise<StepOutcome | undefined> {
  const { state } = ctx;
  const wd = normalizeWorkdir(state.containerConfig.WorkingDir ?? "/", instr.path);
  state.containerConfig.WorkingDir = wd;
  if (wd === "/") {
    state.addHistory(`WORKDIR ${wd}`, true);
    return undefined;
  }
  const user = state.containerConfig.User ?? "";
  return runFilesystemStep(ctx.session, state, {
    info: ctx.info,
    record: {
      instruction: "WORKDIR",
      text: instr.original,
      definition: { path: wd, user },
      buildArgs: {},
    },
    createdBy: `WORKDIR ${wd}`,
    work: async (rootfs) => {
      const owner = user === "" ? undefined : await resolveChown(rootfs, user, unknownOwnerWarning(ctx, instr.place, "USER"));
      await mkdirInRoot(rootfs, posix.normalize(wd), owner, instr);
    },
  });
}

/** mkdir -p inside a rootfs: symlinks resolve inside it; created folders get mode 0755 and the owner. */
async function mkdirInRoot(root: string, path: string, owner: { uid: number; gid: number } | undefined, instr: WorkdirInstruction): Promise<void> {
  let current = "/";
  for (const part of path.split("/").filter((p) => p !== "")) {
    const next = await resolveInsideRoot(root, posix.join(current, part));
    const host = await resolveInRoot(root, next);
    try {
      const st = await stat(host);
      if (!st.isDirectory()) throw new DockerfileError(instr.place, `WORKDIR ${path}: ${next} is not a directory`);
    } catch (e) {
      if (errnoCode(e) !== "ENOENT") throw e;
      await mkdir(host, { mode: 0o755 });
      await chmod(host, 0o755);
      if (owner) await chown(host, owner.uid, owner.gid);
    }
    current = next;
  }
}
