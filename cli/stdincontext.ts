// A build's Dockerfile or context from elsewhere than a folder, as `docker build` takes them: standard
// input (`-f -`, or `-` as the context: a tar, plain or gzip/bzip2/xz/zstd-compressed, holding the
// context, or when it is not a tar a Dockerfile and no context), an http(s) URL (the same: a tarball or
// a Dockerfile) or a git repository (`https://host/repo.git#ref:subdir`, checked out). Each is written
// to a scratch folder in the store named for this process (ownedName), removed when the build ends; a
// killed build's is swept by the next command.
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { UserError } from "../common/errors.js";
import { ownedName } from "../common/owner.js";
import type { StorePaths } from "../common/storepaths.js";

export interface StdinInputs {
  contextDir?: string;
  dockerfile?: string;
  /** The name errors give the Dockerfile read from standard input. */
  dockerfileName?: string;
  /** Removes the scratch folder; safe to call more than once. */
  cleanup(): Promise<void>;
}

const DOCKERFILE_LIMIT = 8 << 20;

async function readAll(input: NodeJS.ReadableStream, limit: number, what: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const b = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    size += b.length;
    if (size > limit) throw new UserError(`${what} from standard input is larger than ${limit >> 20} MiB`);
    parts.push(b);
  }
  return Buffer.concat(parts);
}

/** Reads what `-f -` or a `-` context asks of standard input; `undefined` fields keep the command line's. */
export async function readStdinInputs(paths: StorePaths, opts: { contextIsStdin: boolean; dockerfileIsStdin: boolean }, input: NodeJS.ReadableStream = process.stdin, name = "the context from standard input"): Promise<StdinInputs> {
  if (opts.contextIsStdin && opts.dockerfileIsStdin) {
    throw new UserError("invalid argument: can't use standard input for both the build context and the Dockerfile");
  }
  const scratch = join(paths.tmp, ownedName("stdin"));
  const cleanup = (): Promise<void> => rm(scratch, { recursive: true, force: true });
  try {
    await mkdir(scratch, { recursive: true });
    if (opts.dockerfileIsStdin) {
      const dockerfile = join(scratch, "Dockerfile");
      await writeFile(dockerfile, await readAll(input, DOCKERFILE_LIMIT, "the Dockerfile"));
      return { dockerfile, dockerfileName: "Dockerfile", cleanup };
    }
    const spooled = join(scratch, "stdin");
    await pipeline(input, createWriteStream(spooled));
    const contextDir = join(scratch, "context");
    await mkdir(contextDir);
    const { probeArchive, extractArchive } = await import("../builder/copy/archive.js");
    const kind = await probeArchive(spooled);
    if (kind === undefined) {
      // Not a tar: the Dockerfile itself, and an empty context.
      const dockerfile = join(scratch, "Dockerfile");
      await rename(spooled, dockerfile);
      return { contextDir, dockerfile, dockerfileName: "Dockerfile", cleanup };
    }
    await extractArchive(spooled, kind, contextDir, "/", { file: "-", line: 0 }, name);
    await rm(spooled);
    return { contextDir, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** Whether a build's context argument is a git repository or an http(s) URL rather than a folder. */
export function isRemoteContext(context: string): boolean {
  return /^https?:\/\//.test(context) || /^git@[^:/]+:/.test(context) || /^(git|ssh):\/\//.test(context);
}

/**
 * A git repository checked out, or an http(s) tarball (or Dockerfile) downloaded, as the build context;
 * an ssh remote takes the agent of `--ssh default` when given (`access`), else the user's own ssh.
 */
export async function readRemoteContext(paths: StorePaths, context: string, access: import("../runtime/git.js").GitAccess = {}): Promise<StdinInputs> {
  const { parseGitSource, resolveGitCommit, checkoutGit } = await import("../runtime/git.js");
  const repository = parseGitSource(context);
  if (repository !== undefined) {
    const scratch = join(paths.tmp, ownedName("gitctx"));
    const cleanup = (): Promise<void> => rm(scratch, { recursive: true, force: true });
    try {
      await mkdir(scratch, { recursive: true });
      const contextDir = join(scratch, "context");
      await checkoutGit(repository, await resolveGitCommit(repository, access), contextDir, access);
      return { contextDir, cleanup };
    } catch (e) {
      await cleanup();
      throw e;
    }
  }
  const { netFetch } = await import("../common/netfetch.js");
  let res: import("../common/netresponse.js").NetResponse;
  try {
    res = await netFetch(context, { redirect: "follow" });
  } catch (e) {
    throw new UserError(`unable to prepare context: ${context.slice(0, 200)}: ${e instanceof Error && e.cause instanceof Error ? e.cause.message : String(e)}`);
  }
  const body = res.ok ? res.stream() : null;
  if (body === null) {
    res.discard();
    throw new UserError(`unable to prepare context: ${context.slice(0, 200)}: ${res.status} ${res.statusText}`);
  }
  return readStdinInputs(paths, { contextIsStdin: true, dockerfileIsStdin: false }, body, `the context ${context.slice(0, 200)}`);
}
