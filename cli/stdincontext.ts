// Standard input as a build's Dockerfile (`-f -`) or context (`tsbuild build -`), as `docker build`
// takes them: `-` is a tar (plain or gzip/bzip2/xz/zstd-compressed) holding the context, or, when it is
// not a tar, a Dockerfile and no context. Both are written to a scratch folder in the store named for
// this process (ownedName), removed when the build ends; a killed build's is swept by the next command.
import { createWriteStream } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
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
export async function readStdinInputs(paths: StorePaths, opts: { contextIsStdin: boolean; dockerfileIsStdin: boolean }, input: NodeJS.ReadableStream = process.stdin): Promise<StdinInputs> {
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
      const { rename } = await import("node:fs/promises");
      await rename(spooled, dockerfile);
      return { contextDir, dockerfile, dockerfileName: "Dockerfile", cleanup };
    }
    await extractArchive(spooled, kind, contextDir, "/", { file: "-", line: 0 }, "the context from standard input");
    await rm(spooled);
    return { contextDir, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
