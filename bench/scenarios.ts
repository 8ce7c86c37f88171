// The benchmark's scenarios: each generates its context and says how a measured run differs from the last.
// A scenario is a build by default (timed as `build` in each tool); one that times something else (push,
// pull, save, load, a cache export) says so with setup/prepare/timed.
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { bh, dk, freshRoot, REGISTRY, run, runQuiet, ts, type Cmd, type ToolName } from "./tools.js";
import { debianArchive, ensureDebianArchive } from "./debian.js";

/** What a scenario's hooks get: its context, tsbuild's store, its scratch folder and image name. */
export interface RunEnv {
  ctx: string;
  /** tsbuild's store for this scenario (holding busybox:local unless prepare empties it). */
  root: string;
  /** The scenario's own scratch folder (removed at the end). */
  dir: string;
  /** The benchmark's scratch folder (shared by scenarios). */
  scratch: string;
  /** The image name the default build tags (unique to this benchmark run). */
  tag: string;
  /** Unique to this benchmark run: for registry repositories. */
  id: string;
  /** Measured runs per tool (the warm-up is run -1). */
  runs: number;
}

export interface Scenario {
  name: string;
  description: string;
  /** The goal for tsbuild/BuildKit (median seconds), or for peak memory in bytes. */
  goal?: { ratio?: number; peakRssBytes?: number };
  generate(ctx: string): Promise<void>;
  /** Measured runs build everything (BuildKit --no-cache, tsbuild --no-cache). */
  cold?: boolean;
  /** Before each measured run of a tool (the context is shared, so the change is per tool and run). */
  beforeRun?(ctx: string, tool: string, run: number): Promise<void>;
  /** Measure tsbuild's peak memory. */
  memory?: boolean;
  /** The tools it compares (default: all that answer). */
  tools?: ToolName[];
  /** Once per tool before the warm-up, untimed (e.g. the image a push scenario pushes). */
  setup?(t: RunEnv, tool: ToolName): Promise<void>;
  /** Before every run of a tool (the warm-up's too), untimed. */
  prepare?(t: RunEnv, tool: ToolName, run: number): Promise<void>;
  /** One run's timed commands, in order (default: the build of the context). */
  timed?(t: RunEnv, tool: ToolName, run: number): Cmd[];
  /** After the runs, per tool: removes what setup and the runs left outside the scratch folder. */
  cleanup?(t: RunEnv, tool: ToolName): Promise<void>;
}

/** The default timed command: a build of the context, as the user types it. */
export function buildCommand(t: RunEnv, tool: ToolName, cold: boolean, extra: string[] = []): Cmd {
  const nc = cold ? ["--no-cache"] : [];
  if (tool === "tsbuild") return ts("--root", t.root, "build", "--progress", "plain", "--network", "none", ...nc, ...extra, "-t", t.tag, t.ctx);
  if (tool === "buildkit") return dk("build", "--network=none", "-q", ...nc, ...extra, "-t", t.tag, t.ctx);
  // runc, as the others use (buildah would take crun where it is installed)
  return bh("bud", "--runtime", "runc", "--layers", "--network", "none", "-q", ...nc, ...extra, "-t", t.tag, t.ctx);
}

/** Removes an image from a tool's store (tsbuild's whole store is made anew instead). */
async function removeImage(t: RunEnv, tool: ToolName, ref: string): Promise<void> {
  if (tool === "buildkit") await runQuiet(dk("rmi", "-f", ref));
  // buildah names what it pulls from an archive both localhost/NAME and docker.io/library/NAME, and
  // `rmi NAME` untags only the first: the image stayed, and the next pull of it wrote nothing (0.05 s)
  if (tool === "buildah") for (const name of buildahNames(ref)) await runQuiet(bh("rmi", "-f", name));
}

/** A short name as buildah may hold it: itself (localhost/ first) and under Docker Hub's default. */
function buildahNames(ref: string): string[] {
  const first = ref.split("/")[0] ?? "";
  const hasHost = ref.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
  if (hasHost) return [ref];
  return [ref, ref.includes("/") ? `docker.io/${ref}` : `docker.io/library/${ref}`];
}

const BASE = "busybox:local";

async function smallProject(ctx: string): Promise<void> {
  await mkdir(join(ctx, "src"), { recursive: true });
  for (let i = 0; i < 10; i++) await writeFile(join(ctx, "src", `file${i}.txt`), `file ${i}\n`.repeat(50));
  await writeFile(join(ctx, "README"), "a small project\n");
  await writeFile(
    join(ctx, "Dockerfile"),
    `FROM ${BASE}\nWORKDIR /app\nCOPY . /app\nRUN cat /app/src/*.txt | wc -c > /app/size\nCMD ["cat", "/app/size"]\n`,
  );
}

/** 20,000 files of 2,500 bytes (50 MB) in 200 folders. */
async function largeContext(ctx: string): Promise<void> {
  let seed = 12345;
  const next = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  for (let d = 0; d < 200; d++) {
    const dir = join(ctx, "data", `d${d}`);
    await mkdir(dir, { recursive: true });
    const writes: Promise<void>[] = [];
    for (let f = 0; f < 100; f++) {
      const buf = Buffer.alloc(2500);
      for (let i = 0; i < buf.length; i += 4) buf.writeUInt32LE(next(), i);
      writes.push(writeFile(join(dir, `f${f}.bin`), buf));
    }
    await Promise.all(writes);
  }
  await writeFile(join(ctx, "Dockerfile"), `FROM ${BASE}\nCOPY . /app\nRUN find /app -type f | wc -l > /count\n`);
}

/** A RUN that writes 20,000 small files (an `npm install`), then a `COPY --from` of them into another stage. */
async function smallFiles(ctx: string): Promise<void> {
  const write = "for d in $(seq 1 200); do mkdir p$d; for f in $(seq 1 100); do echo \"module.exports = $d * $f;\" > p$d/f$f.js; done; done";
  await writeFile(
    join(ctx, "Dockerfile"),
    `FROM ${BASE} AS deps\nRUN mkdir /node_modules && cd /node_modules && ${write}\n` +
      `FROM ${BASE}\nWORKDIR /app\nCOPY --from=deps /node_modules /app/node_modules\n`,
  );
}

/** Three stages that need nothing of each other (each writes 3,000 files and waits 1 s, as a download would), then one copying from each. */
async function independentStages(ctx: string): Promise<void> {
  const stage = (n: string): string =>
    `FROM ${BASE} AS ${n}\nRUN mkdir /out && cd /out && for f in $(seq 1 3000); do echo ${n}$f > f$f; done && sleep 1\n`;
  const names = ["a", "b", "c"];
  const final = `FROM ${BASE}\n${names.map((n) => `COPY --from=${n} /out /${n}\n`).join("")}`;
  await writeFile(join(ctx, "Dockerfile"), names.map(stage).join("") + final);
}

/** Ten stages, each a COPY of the sources and a RUN, and a final stage copying one file from each. */
async function wideStages(ctx: string): Promise<void> {
  await smallProject(ctx);
  const stages = Array.from({ length: 10 }, (_, i) => `FROM ${BASE} AS s${i}\nCOPY src/ /src/\nRUN cat /src/*.txt | wc -c > /out-${i}\n`);
  const final = `FROM ${BASE}\n${Array.from({ length: 10 }, (_, i) => `COPY --from=s${i} /out-${i} /\n`).join("")}`;
  await writeFile(join(ctx, "Dockerfile"), stages.join("") + final);
}

/** An image with one layer of random bytes (incompressible, as real binaries nearly are). */
const randomImage = (mib: number) => async (ctx: string): Promise<void> => {
  await writeFile(join(ctx, "Dockerfile"), `FROM ${BASE}\nRUN dd if=/dev/urandom of=/big bs=1M count=${mib} 2>/dev/null\n`);
};

async function buildOnce(t: RunEnv, tool: ToolName): Promise<void> {
  await run(buildCommand(t, tool, false));
}

/**
 * A fresh place for each run: tsbuild's store emptied, the image gone from the others, with the layers
 * their build caches still held (BuildKit's cache, buildah's intermediate images), else a load or pull
 * finds the layers there and writes nothing.
 */
async function emptied(t: RunEnv, tool: ToolName, ref: string): Promise<void> {
  if (tool === "tsbuild") return freshRoot(t.root, t.scratch, false);
  await removeImage(t, tool, ref);
  if (tool === "buildkit") await runQuiet(dk("builder", "prune", "-af"));
  if (tool === "buildah") await runQuiet(bh("rmi", "--prune"));
}

/** Three RUN steps and a COPY: a cache worth exporting (32 MiB of layers). */
async function cacheProject(ctx: string): Promise<void> {
  await smallProject(ctx);
  await writeFile(
    join(ctx, "Dockerfile"),
    `FROM ${BASE}\nRUN dd if=/dev/urandom of=/a bs=1M count=16 2>/dev/null\nRUN dd if=/dev/urandom of=/b bs=1M count=16 2>/dev/null\n` +
      `COPY src/ /src/\nRUN cat /src/*.txt | wc -c > /size\n`,
  );
}

/** A tag per run (the warm-up is run -1, and a tag cannot start with "-"). */
const runTag = (run: number): string => `run${run + 1}`;
const cacheRef = (t: RunEnv, tool: ToolName, run: number | "import"): string => `${REGISTRY}/bench-cache-${tool}-${t.id}:${typeof run === "number" ? runTag(run) : run}`;
const pushRef = (t: RunEnv, tool: ToolName, run: number): string => `${REGISTRY}/bench-push-${tool}-${t.id}:${runTag(run)}`;
const DEBIAN = "bench-debian:bookworm";

const editFile = (rel: string) => async (ctx: string, tool: string, run: number): Promise<void> => {
  await writeFile(join(ctx, rel), `edited by ${tool} run ${run} at ${Date.now()}\n`);
};

export const SCENARIOS: Scenario[] = [
  {
    name: "small-noop",
    description: "no-op rebuild, small project",
    goal: { ratio: 0.8 },
    generate: smallProject,
  },
  {
    name: "small-edit",
    description: "one-file edit, small project",
    goal: { ratio: 0.7 },
    generate: smallProject,
    beforeRun: editFile("src/file3.txt"),
  },
  {
    name: "small-cold",
    description: "cold build, small project",
    goal: { ratio: 0.8 },
    generate: smallProject,
    cold: true,
  },
  {
    name: "ctx20k-noop",
    description: "20,000 files (50 MB), unchanged",
    goal: { ratio: 0.3 },
    generate: largeContext,
  },
  {
    name: "ctx20k-edit",
    description: "20,000 files (50 MB), one-file edit",
    goal: { ratio: 0.3 },
    generate: largeContext,
    beforeRun: editFile("data/d17/f42.bin"),
  },
  {
    name: "run50-cold",
    description: "50 RUN steps, cold",
    goal: { ratio: 0.6 },
    generate: async (ctx) => {
      const runs = Array.from({ length: 50 }, (_, i) => `RUN echo step ${i} > /step-${i}\n`).join("");
      await writeFile(join(ctx, "Dockerfile"), `FROM ${BASE}\n${runs}`);
    },
    cold: true,
  },
  {
    name: "layer-1gib",
    description: "1 GiB layer (RUN dd), cold",
    goal: { ratio: 0.6, peakRssBytes: 150 * 1024 * 1024 },
    generate: async (ctx) => {
      await writeFile(join(ctx, "Dockerfile"), `FROM ${BASE}\nRUN dd if=/dev/zero of=/big bs=1M count=1024\n`);
    },
    cold: true,
    memory: true,
  },
  {
    name: "ctx20k-cold",
    description: "20,000 files (50 MB), cold",
    goal: { ratio: 1.0 },
    generate: largeContext,
    cold: true,
  },
  {
    name: "smallfiles-copyfrom",
    description: "RUN writing 20,000 files + COPY --from, cold",
    goal: { ratio: 1.0 },
    generate: smallFiles,
    cold: true,
  },
  {
    name: "stages-independent",
    description: "3 independent stages + final, cold",
    goal: { ratio: 1.0 },
    generate: independentStages,
    cold: true,
  },
  {
    name: "stages-wide",
    description: "10 stages + final copying from each, cold",
    goal: { ratio: 1.0 },
    generate: wideStages,
    cold: true,
  },
  {
    name: "debian-first",
    description: "Debian rootfs (debootstrap): load + first RUN",
    goal: { ratio: 1.0 },
    generate: async (ctx) => writeFile(join(ctx, "Dockerfile"), `FROM ${DEBIAN}\nRUN echo hello > /hello\n`),
    setup: async () => {
      await ensureDebianArchive();
    },
    // the image the last run built FROM the base goes too: while it is there, Docker and buildah keep
    // the base's layers and their load only checks them (0.3-0.6 s for 204 MB: nothing unpacked)
    prepare: async (t, tool) => {
      await removeImage(t, tool, t.tag);
      await emptied(t, tool, DEBIAN);
    },
    timed: (t, tool) => {
      const archive = debianArchive();
      const load = tool === "tsbuild" ? ts("--root", t.root, "load", "-q", "-i", archive) : tool === "buildkit" ? dk("load", "-q", "-i", archive) : bh("pull", "-q", `docker-archive:${archive}`);
      return [load, buildCommand(t, tool, true, tool === "buildah" ? ["--pull=never"] : [])];
    },
    cleanup: async (t, tool) => removeImage(t, tool, DEBIAN),
  },
  {
    name: "registry-push",
    description: "push a 64 MiB image to the loopback registry",
    goal: { ratio: 1.0 },
    generate: randomImage(64),
    setup: buildOnce,
    prepare: async (t, tool, i) => {
      const ref = pushRef(t, tool, i);
      if (tool === "tsbuild") await run(ts("--root", t.root, "tag", t.tag, ref));
      if (tool === "buildkit") await run(dk("tag", t.tag, ref));
    },
    timed: (t, tool, i) => {
      const ref = pushRef(t, tool, i);
      if (tool === "tsbuild") return [ts("--root", t.root, "push", "-q", ref)];
      if (tool === "buildkit") return [dk("push", "-q", ref)];
      return [bh("push", "-q", "--tls-verify=false", t.tag, `docker://${ref}`)];
    },
    cleanup: async (t, tool) => {
      if (tool === "buildkit") for (let i = -1; i < t.runs; i++) await runQuiet(dk("rmi", pushRef(t, tool, i)));
    },
  },
  {
    name: "registry-pull",
    description: "pull a 64 MiB image from the loopback registry",
    goal: { ratio: 1.0 },
    generate: randomImage(64),
    setup: async (t, tool) => {
      if (tool !== "tsbuild") return;
      await buildOnce(t, tool);
      await run(ts("--root", t.root, "tag", t.tag, `${REGISTRY}/bench-pull-${t.id}:1`));
      await run(ts("--root", t.root, "push", "-q", `${REGISTRY}/bench-pull-${t.id}:1`));
    },
    prepare: async (t, tool) => emptied(t, tool, `${REGISTRY}/bench-pull-${t.id}:1`),
    timed: (t, tool) => {
      const ref = `${REGISTRY}/bench-pull-${t.id}:1`;
      if (tool === "tsbuild") return [ts("--root", t.root, "pull", "-q", ref)];
      if (tool === "buildkit") return [dk("pull", "-q", ref)];
      return [bh("pull", "-q", "--tls-verify=false", `docker://${ref}`)];
    },
    cleanup: async (t, tool) => removeImage(t, tool, `${REGISTRY}/bench-pull-${t.id}:1`),
  },
  {
    name: "cache-export",
    description: "cold build exporting its cache to the registry",
    goal: { ratio: 1.0 },
    tools: ["tsbuild", "buildkit"],
    generate: cacheProject,
    timed: (t, tool, i) => {
      const ref = cacheRef(t, tool, i);
      // BuildKit through the Docker CLI (no buildx here) exports its cache inline in the image it pushes
      if (tool === "buildkit") return [buildCommand(t, tool, true, ["--build-arg", "BUILDKIT_INLINE_CACHE=1", "-t", ref]), dk("push", "-q", ref)];
      return [buildCommand(t, tool, true, ["--cache-to", `type=registry,ref=${ref}`])];
    },
    cleanup: async (t, tool) => {
      if (tool === "buildkit") for (let i = -1; i < t.runs; i++) await runQuiet(dk("rmi", cacheRef(t, tool, i)));
    },
  },
  {
    name: "cache-import",
    description: "build from the registry cache into an empty cache",
    goal: { ratio: 1.0 },
    tools: ["tsbuild", "buildkit"],
    generate: cacheProject,
    setup: async (t, tool) => {
      const ref = cacheRef(t, tool, "import");
      if (tool === "buildkit") {
        await run(buildCommand(t, tool, true, ["--build-arg", "BUILDKIT_INLINE_CACHE=1", "-t", ref]));
        await run(dk("push", "-q", ref));
      } else await run(buildCommand(t, tool, true, ["--cache-to", `type=registry,ref=${ref}`]));
    },
    prepare: async (t, tool) => {
      if (tool === "tsbuild") await freshRoot(t.root, t.scratch);
      else {
        await runQuiet(dk("rmi", "-f", t.tag, cacheRef(t, tool, "import")));
        await runQuiet(dk("builder", "prune", "-af"));
      }
    },
    timed: (t, tool) => {
      const ref = cacheRef(t, tool, "import");
      return [buildCommand(t, tool, false, tool === "buildkit" ? ["--cache-from", ref] : ["--cache-from", `type=registry,ref=${ref}`])];
    },
  },
  {
    name: "image-save",
    description: "save a 256 MiB image to a docker-archive",
    goal: { ratio: 1.0 },
    generate: randomImage(256),
    setup: buildOnce,
    prepare: async (t, tool) => rm(join(t.dir, `${tool}.tar`), { force: true }),
    timed: (t, tool) => {
      const out = join(t.dir, `${tool}.tar`);
      if (tool === "tsbuild") return [ts("--root", t.root, "save", t.tag, "-o", out)];
      if (tool === "buildkit") return [dk("save", "-o", out, t.tag)];
      return [bh("push", "-q", t.tag, `docker-archive:${out}:${t.tag}`)];
    },
  },
  {
    name: "image-load",
    description: "load a 256 MiB image from a docker-archive",
    goal: { ratio: 1.0 },
    generate: randomImage(256),
    setup: async (t, tool) => {
      await buildOnce(t, tool);
      const out = join(t.dir, `${tool}-image.tar`);
      if (tool === "tsbuild") await run(ts("--root", t.root, "save", t.tag, "-o", out));
      else if (tool === "buildkit") await run(dk("save", "-o", out, t.tag));
      else await run(bh("push", "-q", t.tag, `docker-archive:${out}:${t.tag}`));
    },
    prepare: async (t, tool) => emptied(t, tool, t.tag),
    timed: (t, tool) => {
      const archive = join(t.dir, `${tool}-image.tar`);
      if (tool === "tsbuild") return [ts("--root", t.root, "load", "-q", "-i", archive)];
      if (tool === "buildkit") return [dk("load", "-q", "-i", archive)];
      return [bh("pull", "-q", `docker-archive:${archive}`)];
    },
  },
];
