// RUN --mount: what each mount puts at its target while the command runs, and what it adds to the
// step's cache key. As in BuildKit: bind sources (context, stage or image) count by content, cache
// mounts persist between builds and never count, tmpfs is empty, secrets never count. Nothing a
// mount holds ends up in the layer; mountpoints runc had to create are removed after the run.
import { pathExists } from "../../common/fsutil.js";
import { chmod, chown, lstat, mkdir, readdir, rename, rm, utimes, writeFile } from "node:fs/promises";
import { dirname, join, posix } from "node:path";
import { DockerfileError, errnoCode, type SourcePlace } from "../../common/errors.js";
import { digestHex, sha256, type Digest } from "../../common/digest.js";
import { withFileLock } from "../../common/lock.js";
import { resolveInRoot } from "../../common/rootpath.js";
import { normalizeRel, type BuildContext } from "../../cache/context.js";
import { digestPaths, type InputsDigest } from "../../cache/filedigest.js";
import type { OciMount } from "../../runtime/ocispec.js";
import { scratchName } from "../../runtime/owner.js";
import { copyIntoRootfs, type CopyRequest } from "../copy/copy.js";
import type { RunInstruction } from "../instructions/index.js";
import { InstructionError } from "../instructions/request.js";
import { parseRunMount, type RunMount } from "../instructions/runmount.js";
import type { StepContext } from "./context.js";
import { openFromSource } from "./fromsource.js";

export interface PreparedMounts {
  /** What the key says about the mounts (their options; never a secret's value). */
  definition: Array<Record<string, unknown>>;
  /** Content of the bind mounts' sources, or undefined without bind mounts. */
  inputs?: InputsDigest;
  /** Copies made for the container (writable binds, secrets) are made here, at run time. */
  materialize(): Promise<OciMount[]>;
  /** Runs fn holding the locks of `sharing=locked` cache mounts. */
  withLocks<T>(fn: () => Promise<T>): Promise<T>;
  /** Variables the mounts add to the process's environment (SSH_AUTH_SOCK of an ssh mount). */
  env: string[];
  release(): Promise<void>;
}

interface Opened {
  keyPart: Record<string, unknown>;
  inputs?: InputsDigest;
  env?: string[];
  toOci(scratch: string): Promise<OciMount | undefined>;
  lockPath?: string;
  release?: () => Promise<void>;
}

export async function prepareRunMounts(ctx: StepContext, instr: RunInstruction, workdir: string): Promise<PreparedMounts> {
  const place = { file: instr.place.file, line: instr.place.line };
  const opened: Opened[] = [];
  const scratch = join(ctx.session.paths.tmp, scratchName("mounts"));
  const release = async (): Promise<void> => {
    const failures: unknown[] = [];
    for (const o of opened) {
      try {
        await o.release?.();
      } catch (e) {
        failures.push(e);
      }
    }
    await rm(scratch, { recursive: true, force: true });
    if (failures.length > 0) throw failures[0];
  };
  try {
    let sshMounts = 0;
    for (const spec of instr.mounts) {
      const m = parseSpec(spec, place);
      opened.push(m.type === "ssh" ? openSsh(ctx, m, sshMounts++, place) : await openMount(ctx, m, workdir, place));
    }
  } catch (e) {
    await release();
    throw e;
  }
  const withInputs = opened.filter((o) => o.inputs !== undefined);
  const inputs = combinedInputs(withInputs.map((o) => o.inputs as InputsDigest));
  return {
    definition: opened.map((o) => o.keyPart),
    env: opened.flatMap((o) => o.env ?? []),
    ...(inputs !== undefined ? { inputs } : {}),
    materialize: async () => {
      await mkdir(scratch, { recursive: true });
      const out: OciMount[] = [];
      for (const o of opened) {
        const m = await o.toOci(scratch);
        if (m !== undefined) out.push(m);
      }
      return out;
    },
    withLocks: <T>(fn: () => Promise<T>): Promise<T> => {
      const locks = [...new Set(opened.flatMap((o) => (o.lockPath === undefined ? [] : [o.lockPath])))].sort();
      return locks.reduceRight<() => Promise<T>>((inner, lock) => () => withFileLock(lock, inner), fn)();
    },
    release,
  };
}

function parseSpec(spec: string, place: SourcePlace): RunMount {
  try {
    return parseRunMount(spec);
  } catch (e) {
    if (e instanceof InstructionError) throw new DockerfileError(place, `RUN --mount=${spec}: ${e.message}`);
    throw e;
  }
}

function combinedInputs(parts: InputsDigest[]): InputsDigest | undefined {
  if (parts.length <= 1) return parts[0];
  return { digest: sha256(parts.map((p) => p.digest).join("\n")), files: parts.flatMap((p) => p.files) };
}

async function openMount(ctx: StepContext, m: RunMount, workdir: string, place: SourcePlace): Promise<Opened> {
  const target = posix.isAbsolute(m.target) ? posix.normalize(m.target) : posix.join("/", workdir, m.target);
  const options: Record<string, unknown> = { type: m.type, target, readOnly: m.readOnly };
  switch (m.type) {
    case "bind":
      return openBind(ctx, m, target, options, place);
    case "cache":
      return openCache(ctx, m, target, options, place);
    case "tmpfs":
      return {
        keyPart: { ...options, size: m.size ?? null },
        toOci: async () => ({
          destination: target, type: "tmpfs", source: "tmpfs",
          options: ["nosuid", ...(m.size !== undefined ? [`size=${m.size}`] : [])],
        }),
      };
    case "secret":
      return openSecret(ctx, m, target, options, place);
    case "ssh":
      throw new Error("unreachable: ssh mounts are opened by openSsh");
  }
}

/**
 * `RUN --mount=type=ssh[,id=…,target=…,required]`: the agent socket given with `--ssh ID=SOCKET` bound
 * at the target (BuildKit's default /run/buildkit/ssh_agent.N), SSH_AUTH_SOCK pointing at it when the
 * target is the default. The socket is never copied: nothing of it reaches a layer or the key.
 */
function openSsh(ctx: StepContext, m: RunMount, index: number, place: SourcePlace): Opened {
  const id = m.id ?? "default";
  const socket = ctx.session.settings.ssh?.get(id);
  if (socket === undefined && m.required) throw new DockerfileError(place, `RUN --mount=type=ssh: no SSH agent socket for id ${id} (build with --ssh ${id === "default" ? "default" : `${id}=SOCKET`})`);
  const target = m.target !== "" ? posix.normalize(m.target) : `/run/buildkit/ssh_agent.${index}`;
  return {
    keyPart: { type: "ssh", id, target, required: m.required },
    ...(socket !== undefined && m.target === "" ? { env: [`SSH_AUTH_SOCK=${target}`] } : {}),
    // a socket is connected to by writing: bound read-write (it is a mount, never part of the layer)
    toOci: async () => (socket === undefined ? undefined : bindMount(target, socket, false)),
  };
}

async function openBind(ctx: StepContext, m: RunMount, target: string, options: Record<string, unknown>, place: SourcePlace): Promise<Opened> {
  const rel = normalizeRel(m.source ?? "");
  const { session } = ctx;
  if (m.from === undefined) return bindFolder(ctx, session.context, "context", "build context", rel, target, options, m, place);
  const src = await openFromSource(ctx, m.from, place, `RUN --mount from=${m.from}`);
  if (src.folder !== undefined) return bindFolder(ctx, src.folder, src.kind, m.from, rel, target, options, m, place);
  try {
    const host = await resolveInRoot(src.root, "/" + rel, true);
    if (!(await pathExists(host))) throw new DockerfileError(place, `RUN --mount source ${m.source ?? "/"}: not found in ${m.from}`);
    const inputs = await digestPaths(src.root, [rel], undefined, session.digests);
    return {
      inputs, release: src.release, keyPart: { ...options, from: src.kind, source: rel },
      toOci: async (scratch) => {
        if (m.readOnly) return bindMount(target, host, true);
        return bindMount(target, await copyForMount(scratch, { sourceRoot: src.root, fromContext: false }, rel, host, place), false);
      },
    };
  } catch (e) {
    await src.release();
    throw e;
  }
}

/**
 * A bind of the build context or a --build-context folder: always a copy, so that only what the
 * folder's .dockerignore keeps may be seen, and writes (rw) are thrown away.
 */
async function bindFolder(
  ctx: StepContext, c: BuildContext, from: string, shown: string, rel: string, target: string,
  options: Record<string, unknown>, m: RunMount, place: SourcePlace,
): Promise<Opened> {
  const host = join(c.dir, rel);
  if ((rel !== "" && c.isIgnored(rel)) || !(await pathExists(host))) {
    throw new DockerfileError(place, `RUN --mount source ${m.source ?? "."}: not found in ${shown}`);
  }
  const inputs = await digestPaths(c.dir, [rel], c, ctx.session.digests);
  return {
    inputs, keyPart: { ...options, from, source: rel },
    toOci: async (scratch) => {
      const copy = { sourceRoot: c.dir, filter: c.filter, mustDescend: (d: string) => c.mustDescend(d), fromContext: from === "context" };
      return bindMount(target, await copyForMount(scratch, copy, rel, host, place), m.readOnly);
    },
  };
}

/**
 * A private copy of `rel` (a folder's contents or one file) under scratch, made by the COPY engine so
 * .dockerignore and owners apply as for COPY; returns the path to bind.
 */
async function copyForMount(
  scratch: string, source: Pick<CopyRequest, "sourceRoot" | "filter" | "mustDescend" | "fromContext">,
  rel: string, host: string, place: SourcePlace,
): Promise<string> {
  const dest = join(scratch, scratchName("bind"));
  await mkdir(dest);
  await copyIntoRootfs({ ...source, sources: [rel === "" ? "." : rel], destRoot: dest, dest: "/src/", workdir: "/", add: false, place });
  return (await lstat(host)).isDirectory() ? join(dest, "src") : join(dest, "src", posix.basename(rel));
}

async function openCache(ctx: StepContext, m: RunMount, target: string, options: Record<string, unknown>, place: SourcePlace): Promise<Opened> {
  const id = m.id ?? target;
  const mounts = join(ctx.session.paths.cache, "mounts");
  if (m.from !== undefined) return openSeededCache(ctx, m, id, mounts, target, options, place);
  const name = cacheFolderName(id, m);
  const dir = join(mounts, name);
  const keyPart = { ...options, id, sharing: m.sharing, mode: m.mode ?? null, uid: m.uid ?? null, gid: m.gid ?? null };
  return {
    keyPart,
    ...(m.sharing === "locked" ? { lockPath: join(ctx.session.paths.locks, `cache-mount-${name}.lock`) } : {}),
    toOci: async () => {
      if (ctx.session.settings.noCache) await emptyOncePerBuild(ctx.session, mounts, id);
      await createCacheFolder(dir, m);
      return bindMount(target, dir, m.readOnly);
    },
  };
}

/**
 * `type=cache,from=STAGE,source=PATH`: a cache that starts as a copy of PATH in the stage (or image),
 * with its owners and modes, and then lives on like any cache of its id. As in BuildKit, the content at
 * PATH is part of the step's key (the mount's input), and the cache is one per id and result of the
 * stage: a rebuilt stage starts a new cache. (BuildKit's cache is the stage's whole root, mounted at
 * PATH, so two mounts of one id and stage with different sources share it; here each source has its
 * own, which only a Dockerfile mounting both could see.) uid/gid/mode do not apply: the copy has PATH's.
 */
async function openSeededCache(
  ctx: StepContext, m: RunMount, id: string, mounts: string, target: string, options: Record<string, unknown>, place: SourcePlace,
): Promise<Opened> {
  const from = m.from as string;
  const rel = normalizeRel(m.source ?? "");
  const src = await openFromSource(ctx, from, place, `RUN --mount=type=cache,from=${from}`);
  try {
    const host = await resolveInRoot(src.root, "/" + rel, true);
    if (!(await lstat(host).catch(() => undefined))?.isDirectory()) {
      throw new DockerfileError(place, `RUN --mount=type=cache source ${m.source ?? "/"}: not a folder in ${from}`);
    }
    const inputs = await digestPaths(src.root, [rel], undefined, ctx.session.digests);
    const name = `${idFolder(id)}-from-${digestHex(sha256(`${src.identity}\0${rel}`) as Digest).slice(0, 16)}`;
    const dir = join(mounts, name);
    return {
      inputs, release: src.release,
      keyPart: { ...options, id, sharing: m.sharing, from: src.kind, source: rel },
      ...(m.sharing === "locked" ? { lockPath: join(ctx.session.paths.locks, `cache-mount-${name}.lock`) } : {}),
      toOci: async (scratch) => {
        if (ctx.session.settings.noCache) await emptyOncePerBuild(ctx.session, mounts, id);
        if (!(await pathExists(dir))) await seedCacheFolder(dir, scratch, src.root, rel, host, place);
        return bindMount(target, dir, m.readOnly);
      },
    };
  } catch (e) {
    await src.release();
    throw e;
  }
}

/** A new seeded cache: a copy of the source folder (its entries, owners, modes and its own metadata), renamed in. */
async function seedCacheFolder(dir: string, scratch: string, root: string, rel: string, host: string, place: SourcePlace): Promise<void> {
  const copy = join(scratch, scratchName("seed"));
  await mkdir(copy);
  await copyIntoRootfs({ sourceRoot: root, fromContext: false, sources: [rel === "" ? "." : rel], destRoot: copy, dest: "/c/", workdir: "/", add: false, place });
  const made = join(copy, "c");
  const st = await lstat(host);
  await chown(made, st.uid, st.gid);
  await chmod(made, st.mode & 0o7777);
  await utimes(made, st.atime, st.mtime);
  await mkdir(dirname(dir), { recursive: true });
  try {
    await rename(made, dir);
  } catch (e) {
    // Another build seeded it first: use theirs.
    if (errnoCode(e) !== "ENOTEMPTY" && errnoCode(e) !== "EEXIST") throw e;
  }
}

/**
 * The folder of a cache mount: one per id, and apart from it one per (uid, gid, mode) when any of them
 * is given. BuildKit keys a cache mount by its id plus the ref it starts from, and uid/gid/mode give it
 * one (a scratch folder made with that owner and mode: convert_runmount.go setCacheUIDGID), so
 * `uid=10` and a plain mount of the same id never share, while `uid=0` and `mode=0755` do.
 * The plain folder keeps the name older stores used.
 */
export function cacheFolderName(id: string, m: Pick<RunMount, "uid" | "gid" | "mode">): string {
  const base = idFolder(id);
  if (m.uid === undefined && m.gid === undefined && m.mode === undefined) return base;
  const variant = `${m.uid ?? 0}:${m.gid ?? 0}:${(m.mode ?? 0o755).toString(8)}`;
  return `${base}-${digestHex(sha256(`cache-mount-base\0${variant}`) as Digest).slice(0, 16)}`;
}

function idFolder(id: string): string {
  return digestHex(sha256(`cache-mount\0${id}`) as Digest);
}

/** The cache mount ids a --no-cache build has emptied already (each once, before its first use). */
const emptied = new WeakMap<object, Map<string, Promise<void>>>();

/**
 * --no-cache starts every cache mount the build uses empty, whatever its uid/gid/mode: BuildKit prunes
 * the cache mounts of every id the build names before it runs (bridge.go PruneCacheMounts). BuildKit
 * 0.13 missed the mounts with uid/gid/mode (moby/buildkit#5305, fixed in 0.16): tsbuild follows the
 * fix (testdata/oracle-differences.md). RUN steps after the first one of the build share it again.
 */
function emptyOncePerBuild(session: object, mounts: string, id: string): Promise<void> {
  let done = emptied.get(session);
  if (done === undefined) emptied.set(session, (done = new Map()));
  let pending = done.get(id);
  if (pending === undefined) {
    pending = removeCacheFolders(mounts, idFolder(id));
    done.set(id, pending);
  }
  return pending;
}

/** Removes the folders of one cache id (renamed aside first, so a half-removed one is never used). */
export async function removeCacheFolders(mounts: string, base: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(mounts);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return;
    throw e;
  }
  for (const name of names) {
    if (name !== base && !name.startsWith(`${base}-`) && !name.startsWith(`${base}.pruned-`)) continue;
    let aside = join(mounts, name);
    if (!name.includes(".pruned-")) { // else: left by a removal that was killed
      aside = join(mounts, `${name}.${scratchName("pruned")}`);
      await rename(join(mounts, name), aside);
    }
    await rm(aside, { recursive: true, force: true });
  }
}

/** A new cache folder gets the mount's mode and owner (BuildKit: 0755 root unless given). */
async function createCacheFolder(dir: string, m: RunMount): Promise<void> {
  if (await pathExists(dir)) return;
  const tmp = `${dir}.${scratchName("new")}`;
  await mkdir(tmp, { recursive: true });
  await chmod(tmp, m.mode ?? 0o755);
  await chown(tmp, m.uid ?? 0, m.gid ?? 0);
  try {
    await rename(tmp, dir);
  } catch (e) {
    // Another build created it first: use theirs.
    await rm(tmp, { recursive: true, force: true });
    if (errnoCode(e) !== "ENOTEMPTY" && errnoCode(e) !== "EEXIST") throw e;
  }
}

async function openSecret(ctx: StepContext, m: RunMount, target: string, options: Record<string, unknown>, place: SourcePlace): Promise<Opened> {
  const id = m.id ?? "";
  const secret = ctx.session.settings.secrets?.get(id);
  if (secret === undefined && m.required) throw new DockerfileError(place, `RUN --mount=type=secret: secret ${id} not provided (use --secret id=${id},src=FILE)`);
  return {
    keyPart: { ...options, id, required: m.required },
    toOci: async (scratch) => {
      if (secret === undefined) return undefined; // not required: no mount, as in BuildKit
      const file = join(scratch, scratchName("secret"));
      await writeFile(file, secret, { mode: 0o600 });
      await chmod(file, m.mode ?? 0o400);
      await chown(file, m.uid ?? 0, m.gid ?? 0);
      return bindMount(target, file, true);
    },
  };
}

function bindMount(destination: string, source: string, readOnly: boolean): OciMount {
  return { destination, type: "bind", source, options: ["rbind", readOnly ? "ro" : "rw"] };
}

