// `make bench`: times tsbuild against BuildKit (the oracle's dockerd, when it answers) on generated
// scenarios, and beside it buildah (the oracle's storage, when it answers), alternating runs after a warm-up;
// prints medians, ratios and goals and writes results.json.
// Options (`node --import tsx bench/run.ts --runs 3`): --only NAME[,NAME] or SCENARIOS=NAME,NAME (`make bench
// SCENARIOS=a,b`), --runs N (measured runs per tool, default 5), --no-buildah, --out FILE (a subset writes
// bench/results-partial.json, the full run bench/results.json).
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { median, runCommand, timeCommand } from "./measure.js";
import { buildCommand, SCENARIOS, type RunEnv, type Scenario } from "./scenarios.js";
import { buildahAnswers, dockerAnswers, freshRoot, holdBuildKitLock, REPO, runQuiet, bh, dk, type ToolName } from "./tools.js";

interface Result {
  name: string;
  description: string;
  runs: number;
  tsbuild: number[];
  buildkit: number[] | null;
  buildah: number[] | null;
  tsbuildMedian: number;
  buildkitMedian: number | null;
  buildahMedian: number | null;
  ratio: number | null;
  ratioBuildah: number | null;
  goal: Scenario["goal"];
  peakRssBytes?: number;
  met: boolean | null;
}

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** One run of a tool: its untimed preparation, then its timed commands (seconds added up). */
async function oneRun(s: Scenario, t: RunEnv, tool: ToolName, i: number, memory: boolean): Promise<{ seconds: number; peakRssBytes?: number }> {
  if (i >= 0) await s.beforeRun?.(t.ctx, tool, i);
  await s.prepare?.(t, tool, i);
  // the disk written back before each timed run: a heavy run's dirty pages otherwise flush during the
  // next one, whichever tool it is (a wide build after the independent stages took 1.5 s, alone 0.66 s)
  await runCommand("sync", []);
  const cmds = s.timed ? s.timed(t, tool, i) : [buildCommand(t, tool, s.cold === true)];
  let seconds = 0;
  let peak: number | undefined;
  for (const c of cmds) {
    const r = await timeCommand(c.cmd, c.args, { env: c.env, memory });
    seconds += r.seconds;
    if (r.peakRssBytes !== undefined) peak = Math.max(peak ?? 0, r.peakRssBytes);
  }
  return peak === undefined ? { seconds } : { seconds, peakRssBytes: peak };
}

async function runScenario(s: Scenario, scratch: string, runs: number, available: ToolName[]): Promise<Result> {
  const dir = join(scratch, s.name);
  const t: RunEnv = { ctx: join(dir, "ctx"), root: join(dir, "root"), dir, scratch, tag: `tsbuild-bench-${s.name}:${process.pid}`, id: `${process.pid}`, runs };
  const tools = available.filter((tool) => (s.tools ?? available).includes(tool));
  await mkdir(t.ctx, { recursive: true });
  await s.generate(t.ctx);
  await freshRoot(t.root, scratch);
  const times = new Map<ToolName, number[]>(tools.map((tool) => [tool, []]));
  const rss: number[] = [];
  const release = tools.includes("buildkit") ? await holdBuildKitLock() : () => undefined;
  try {
    for (const tool of tools) await s.setup?.(t, tool);
    // Warm-up: fills the caches (and the page cache with the context).
    for (const tool of tools) await oneRun(s, t, tool, -1, false);
    for (let i = 0; i < runs; i++) {
      for (const tool of tools) {
        const r = await oneRun(s, t, tool, i, tool === "tsbuild" && s.memory === true);
        times.get(tool)?.push(r.seconds);
        if (tool === "tsbuild" && r.peakRssBytes !== undefined) rss.push(r.peakRssBytes);
      }
      process.stderr.write(".");
    }
  } finally {
    for (const tool of tools) {
      await s.cleanup?.(t, tool);
      if (tool === "buildkit") await runQuiet(dk("rmi", "-f", t.tag));
      if (tool === "buildah") await runQuiet(bh("rmi", "-f", t.tag));
    }
    release();
    await rm(dir, { recursive: true, force: true });
  }
  const med = (tool: ToolName): number | null => (times.has(tool) ? median(times.get(tool) ?? []) : null);
  const tsMedian = med("tsbuild") ?? Number.NaN;
  const bkMedian = med("buildkit");
  const bhMedian = med("buildah");
  const ratio = bkMedian === null ? null : tsMedian / bkMedian;
  const peak = s.memory ? Math.max(...rss) : undefined;
  // every goal a scenario has must hold (the 1 GiB layer has a ratio and a peak RSS)
  const checks: boolean[] = [];
  if (s.goal?.ratio !== undefined && ratio !== null) checks.push(ratio <= s.goal.ratio);
  if (s.goal?.peakRssBytes !== undefined && peak !== undefined) checks.push(peak < s.goal.peakRssBytes);
  const met: boolean | null = checks.length === 0 ? null : checks.every(Boolean);
  return {
    name: s.name, description: s.description, runs, tsbuild: times.get("tsbuild") ?? [], buildkit: times.get("buildkit") ?? null,
    buildah: times.get("buildah") ?? null, tsbuildMedian: tsMedian, buildkitMedian: bkMedian, buildahMedian: bhMedian, ratio,
    ratioBuildah: bhMedian === null ? null : tsMedian / bhMedian, goal: s.goal, peakRssBytes: peak, met,
  };
}

function formatTable(results: Result[]): string {
  const header = ["scenario", "tsbuild s", "BuildKit s", "ratio", "buildah s", "vs buildah", "goal", "peak RSS", "met"];
  const rows = results.map((r) => [
    r.description,
    r.tsbuildMedian.toFixed(3),
    r.buildkitMedian === null ? "-" : r.buildkitMedian.toFixed(3),
    r.ratio === null ? "-" : r.ratio.toFixed(2),
    r.buildahMedian === null ? "-" : r.buildahMedian.toFixed(3),
    r.ratioBuildah === null ? "-" : r.ratioBuildah.toFixed(2),
    [r.goal?.ratio !== undefined ? `<= ${r.goal.ratio}` : "", r.goal?.peakRssBytes !== undefined ? `RSS < ${r.goal.peakRssBytes / 2 ** 20} MB` : ""].filter((g) => g !== "").join(", ") || "-",
    r.peakRssBytes === undefined ? "-" : `${(r.peakRssBytes / 2 ** 20).toFixed(0)} MB`,
    r.met === null ? "?" : r.met ? "yes" : "NO",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}

async function main(): Promise<void> {
  const only = (option("--only") ?? process.env.SCENARIOS)?.split(",").filter((n) => n !== "");
  const runs = Number.parseInt(option("--runs") ?? "5", 10);
  const unknown = (only ?? []).filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(", ")}; there are: ${SCENARIOS.map((s) => s.name).join(", ")}`);
  const scenarios = only && only.length > 0 ? SCENARIOS.filter((s) => only.includes(s.name)) : SCENARIOS;
  const tools: ToolName[] = ["tsbuild"];
  if (await dockerAnswers()) tools.push("buildkit");
  else process.stderr.write("BuildKit (the oracle's dockerd) does not answer: timing without it\n");
  if (!process.argv.includes("--no-buildah")) {
    if (await buildahAnswers()) tools.push("buildah");
    else process.stderr.write("buildah (the oracle's storage) does not answer: timing without it\n");
  }
  const scratch = await mkdtemp(join(tmpdir(), "tsbuild-bench-"));
  const results: Result[] = [];
  try {
    for (const s of scenarios) {
      process.stderr.write(`${s.name} `);
      results.push(await runScenario(s, scratch, runs, tools));
      process.stderr.write("\n");
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  process.stdout.write(`${formatTable(results)}\n(median of ${runs} alternating runs after a warm-up; ratio = tsbuild/BuildKit)\n`);
  const out = option("--out") ?? join(REPO, "bench", only ? "results-partial.json" : "results.json");
  await writeFile(out, `${JSON.stringify({ date: new Date().toISOString(), runs, tools, results }, null, 2)}\n`);
  process.stdout.write(`wrote ${out}\n`);
}

await main();
