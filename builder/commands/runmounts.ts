// RUN --mount: what each mount puts at its target while the command runs, and what it adds to the
// step's cache key. As in BuildKit: bind sources (context, stage or image) count by content, cache
// mounts persist between builds and never count, tmpfs is empty, secrets never count. Nothing a
// mount holds ends up in the layer; mountpoints runc had to create are removed after the run.
import { pathExists } from "../../common/fsutil.js";
import { chmod, chown, lstat, mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join, posix } from "node:path";
import { DockerfileError, errnoCode, type SourcePlace } from "../../common/errors.js";
import { digestHex, sha256, type Digest } from "../../common/digest.js";
import { withFileLock } from "../../common/lock.js";
import { resolveInRoot } from "../../common/rootpath.js";
import { normalizeRel } from "../../cache/context.js";
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
  release(): Promise<void>;
}

interface Opened {
  keyPart: Record<string, unknown>;
  inputs?: InputsDigest;
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
    for (const spec of instr.mounts) opened.push(await openMount(ctx, parseSpec(spec, place), workdir, place));
  } catch (e) {
    await release();
    throw e;
  }
  const withInputs = opened.filter((o) => o.inputs !== undefined);
  const inputs = combinedInputs(withInputs.map((o) => o.inputs as InputsDigest));
  return {
    definition: opened.map((o) => o.keyPart),
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
      throw new DockerfileError(place, "RUN --mount=type=ssh: SSH agent forwarding is not supported by tsbuild");
  }
}

async function openBind(ctx: StepContext, m: RunMount, target: string, options: Record<string, unknown>, place: SourcePlace): Promise<Opened> {
  const rel = normalizeRel(m.source ?? "");
  const { session } = ctx;
  if (m.from === undefined) {
    const c = session.context;
    const host = join(c.dir, rel);
    if ((rel !== "" && c.isIgnored(rel)) || !(await pathExists(host))) {
      throw new DockerfileError(place, `RUN --mount source ${m.source ?? "."}: not found in build context`);
    }
    const inputs = await digestPaths(c.dir, [rel], c, session.digests);
    return {
      inputs, keyPart: { ...options, from: "context", source: rel },
      // Always a copy: only what .dockerignore keeps may be seen, and writes (rw) are thrown away.
      toOci: async (scratch) => {
        const copy = { sourceRoot: c.dir, filter: c.filter, mustDescend: (d: string) => c.mustDescend(d), fromContext: true };
        return bindMount(target, await copyForMount(scratch, copy, rel, host, place), m.readOnly);
      },
    };
  }
  const src = await openFromSource(ctx, m.from, place, `RUN --mount from=${m.from}`);
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
  if (m.from !== undefined) throw new DockerfileError(place, "RUN --mount=type=cache,from=…: seeding a cache mount from a stage is not supported by tsbuild");
  const id = m.id ?? target;
  const name = digestHex(sha256(`cache-mount\0${id}`) as Digest);
  const dir = join(ctx.session.paths.cache, "mounts", name);
  const keyPart = { ...options, id, sharing: m.sharing, mode: m.mode ?? null, uid: m.uid ?? null, gid: m.gid ?? null };
  return {
    keyPart,
    ...(m.sharing === "locked" ? { lockPath: join(ctx.session.paths.locks, `cache-mount-${name}.lock`) } : {}),
    toOci: async () => {
      await createCacheFolder(dir, m);
      return bindMount(target, dir, m.readOnly);
    },
  };
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

