// Unpacking a layer of many small files: tsbuild's applyLayerTar against GNU tar (`tar -xf` into an
// empty folder on the same disk), alternating runs, medians. Only the extraction is timed: the folder
// is emptied and the disk synced before each run, outside the clock.
//   node --import tsx bench/unpack.ts LAYER.tar [RUNS] [WORKDIR] [--plain]
// --plain also times the plain path (TSBUILD_FAST_UNPACK=0), the one before the native helper.
// A layer to try: a few hundred thousand files of a few bytes in nested folders (any tar).
import { execFileSync } from "node:child_process";
import { createReadStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { applyLayerTar, applyLayerTarPlain } from "../runtime/layer/index.js";
import { runCommand } from "./measure.js";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function countEntries(layer: string): number {
  return execFileSync("tar", ["-tf", layer], { maxBuffer: 1 << 30 }).toString().split("\n").filter((l) => l !== "").length;
}

async function main(): Promise<void> {
  const withPlain = process.argv.includes("--plain");
  const [layer, runsArg, workArg] = process.argv.slice(2).filter((a) => a !== "--plain");
  if (layer === undefined) throw new Error("usage: bench/unpack.ts LAYER.tar [RUNS] [WORKDIR]");
  const runs = Number(runsArg ?? 3);
  const work = workArg ?? join(dirname(layer), "unpack-bench");
  const entries = countEntries(layer);
  const target = join(work, "x");
  const fresh = async (): Promise<void> => {
    await rm(target, { recursive: true, force: true });
    await mkdir(target, { recursive: true });
    execFileSync("sync"); // the last run's writeback and the removal done before the clock starts
  };
  const ours: number[] = [];
  const tars: number[] = [];
  const plains: number[] = [];
  for (let i = 0; i < runs; i++) {
    await fresh();
    tars.push((await runCommand("tar", ["-xf", layer, "-C", target])).seconds);
    await fresh();
    const started = performance.now();
    await applyLayerTar(createReadStream(layer), target);
    ours.push((performance.now() - started) / 1000);
    if (withPlain) {
      await fresh();
      const t = performance.now();
      await applyLayerTarPlain(createReadStream(layer), target);
      plains.push((performance.now() - t) / 1000);
    }
    console.log(`run ${i + 1}: tsbuild ${ours[i]?.toFixed(2)} s, GNU tar ${tars[i]?.toFixed(2)} s${withPlain ? `, plain path ${plains[i]?.toFixed(2)} s` : ""}`);
  }
  await rm(work, { recursive: true, force: true });
  const [a, b] = [median(ours), median(tars)];
  if (withPlain) console.log(`plain path (TSBUILD_FAST_UNPACK=0): median ${median(plains).toFixed(2)} s (${Math.round(entries / median(plains))} entries/s), ratio to GNU tar ${(median(plains) / b).toFixed(2)}`);
  console.log(`${entries} entries; median tsbuild ${a.toFixed(2)} s (${Math.round(entries / a)} entries/s), GNU tar ${b.toFixed(2)} s (${Math.round(entries / b)} entries/s); ratio of medians ${(a / b).toFixed(2)}, median of the pairs' ratios ${median(ours.map((o, i) => o / (tars[i] as number))).toFixed(2)}`);
}

await main();
