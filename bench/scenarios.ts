// The benchmark's scenarios: each generates its context and says how a measured run differs from the last.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

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

const editFile = (rel: string) => async (ctx: string, tool: string, run: number): Promise<void> => {
  await writeFile(join(ctx, rel), `edited by ${tool} run ${run} at ${Date.now()}\n`);
};

export const SCENARIOS: Scenario[] = [
  {
    name: "small-noop",
    description: "no-op rebuild, small project",
    goal: { ratio: 1.5 },
    generate: smallProject,
  },
  {
    name: "small-edit",
    description: "one-file edit, small project",
    goal: { ratio: 1.0 },
    generate: smallProject,
    beforeRun: editFile("src/file3.txt"),
  },
  {
    name: "small-cold",
    description: "cold build, small project",
    goal: { ratio: 1.0 },
    generate: smallProject,
    cold: true,
  },
  {
    name: "ctx20k-noop",
    description: "20,000 files (50 MB), unchanged",
    goal: { ratio: 0.5 },
    generate: largeContext,
  },
  {
    name: "ctx20k-edit",
    description: "20,000 files (50 MB), one-file edit",
    goal: { ratio: 0.5 },
    generate: largeContext,
    beforeRun: editFile("data/d17/f42.bin"),
  },
  {
    name: "run50-cold",
    description: "50 RUN steps, cold",
    goal: { ratio: 0.8 },
    generate: async (ctx) => {
      const runs = Array.from({ length: 50 }, (_, i) => `RUN echo step ${i} > /step-${i}\n`).join("");
      await writeFile(join(ctx, "Dockerfile"), `FROM ${BASE}\n${runs}`);
    },
    cold: true,
  },
  {
    name: "layer-1gib",
    description: "1 GiB layer (RUN dd), cold",
    goal: { peakRssBytes: 250 * 1024 * 1024 },
    generate: async (ctx) => {
      await writeFile(join(ctx, "Dockerfile"), `FROM ${BASE}\nRUN dd if=/dev/zero of=/big bs=1M count=1024\n`);
    },
    cold: true,
    memory: true,
  },
];
