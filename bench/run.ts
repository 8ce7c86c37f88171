// `make bench`: times tsbuild against BuildKit (the oracle's dockerd, when it answers) on generated
// scenarios, alternating runs after a warm-up, and prints medians, ratios and goals; writes results.json.
// Options (after `--` under make: `node --import tsx bench/run.ts --runs 3`): --only NAME[,NAME] (scenarios), --runs N (measured runs per tool, default 5).
import { access, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { median, runCommand, timeCommand, type RunResult } from "./measure.js";
import { SCENARIOS, type Scenario } from "./scenarios.js";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
// TSBUILD_BIN: time another build of tsbuild (e.g. a snapshot of one commit) with this script.
const TSBUILD = process.env.TSBUILD_BIN ?? join(REPO, "bin", "tsbuild");
const DOCKER = "/usr/bin/docker";
const DOCKER_ENV = { ...process.env, DOCKER_HOST: "unix:///tmp/anchors/docker.sock", DOCKER_BUILDKIT: "1" };
const BASE_ARCHIVE = "/tmp/anchors/busybox-docker.tar";
// tsbuild runs in the user's environment as it is: a NODE_EXTRA_CA_CERTS there (this machine sets one) is
// handed on by bin/tsbuild's launcher without Node loading it at start-up (common/netfetch.ts).
const TSBUILD_ENV: NodeJS.ProcessEnv = { ...process.env };

interface Result {
  name: string;
  description: string;
  runs: number;
  tsbuild: number[];
  buildkit: number[] | null;
  tsbuildMedian: number;
  buildkitMedian: number | null;
  ratio: number | null;
  goal: Scenario["goal"];
  peakRssBytes?: number;
  met: boolean | null;
}

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function dockerAnswers(): Promise<boolean> {
  try {
    await runCommand("timeout", ["10", DOCKER, "version"], DOCKER_ENV);
    return true;
  } catch (e) {
    if (e instanceof Error) return false; // no daemon: tsbuild alone
    throw e;
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch (e) {
    if (e instanceof Error && "code" in e && e.code === "ENOENT") return false;
    throw e;
  }
}

/** A fresh store holding busybox:local. */
async function freshRoot(root: string, scratch: string): Promise<void> {
  if (await exists(BASE_ARCHIVE)) {
    await runCommand(TSBUILD, ["--root", root, "load", "-q", "-i", BASE_ARCHIVE], TSBUILD_ENV);
    return;
  }
  const tar = join(scratch, "busybox-rootfs.tar");
  if (!(await exists(tar))) await runCommand(join(REPO, "testdata/busybox/make-rootfs.sh"), [tar]);
  await runCommand(TSBUILD, ["--root", root, "import", tar, "busybox:local", "--change", 'CMD ["sh"]'], TSBUILD_ENV);
}

async function runScenario(s: Scenario, scratch: string, runs: number, withDocker: boolean): Promise<Result> {
  const ctx = join(scratch, s.name, "ctx");
  const root = join(scratch, s.name, "root");
  await mkdir(ctx, { recursive: true });
  await s.generate(ctx);
  await freshRoot(root, scratch);
  const tag = `tsbuild-bench-${s.name}:${process.pid}`;
  const cold = s.cold ? ["--no-cache"] : [];
  const tsArgs = ["--root", root, "build", "--progress", "plain", "--network", "none", ...cold, "-t", tag, ctx];
  const bkArgs = ["build", "--network=none", "-q", ...cold, "-t", tag, ctx];
  const ts: RunResult[] = [];
  const bk: number[] = [];
  try {
    // Warm-up: fills both caches (and the page cache with the context).
    await timeCommand(TSBUILD, tsArgs, { env: TSBUILD_ENV });
    if (withDocker) await timeCommand(DOCKER, bkArgs, { env: DOCKER_ENV });
    for (let i = 0; i < runs; i++) {
      await s.beforeRun?.(ctx, "tsbuild", i);
      ts.push(await timeCommand(TSBUILD, tsArgs, { env: TSBUILD_ENV, memory: s.memory }));
      if (withDocker) {
        await s.beforeRun?.(ctx, "buildkit", i);
        bk.push((await timeCommand(DOCKER, bkArgs, { env: DOCKER_ENV })).seconds);
      }
      process.stderr.write(".");
    }
  } finally {
    if (withDocker) await runCommand(DOCKER, ["rmi", "-f", tag], DOCKER_ENV).catch((e: unknown) => process.stderr.write(`${String(e)}\n`));
    await rm(join(scratch, s.name), { recursive: true, force: true });
  }
  const tsMedian = median(ts.map((r) => r.seconds));
  const bkMedian = withDocker ? median(bk) : null;
  const ratio = bkMedian === null ? null : tsMedian / bkMedian;
  const rss = ts.map((r) => r.peakRssBytes ?? 0);
  const peak = s.memory ? Math.max(...rss) : undefined;
  let met: boolean | null = null;
  if (s.goal?.ratio !== undefined && ratio !== null) met = ratio <= s.goal.ratio;
  if (s.goal?.peakRssBytes !== undefined && peak !== undefined) met = peak < s.goal.peakRssBytes;
  return {
    name: s.name, description: s.description, runs, tsbuild: ts.map((r) => r.seconds), buildkit: withDocker ? bk : null,
    tsbuildMedian: tsMedian, buildkitMedian: bkMedian, ratio, goal: s.goal, peakRssBytes: peak, met,
  };
}

function formatTable(results: Result[]): string {
  const header = ["scenario", "tsbuild s", "BuildKit s", "ratio", "goal", "peak RSS", "met"];
  const rows = results.map((r) => [
    r.description,
    r.tsbuildMedian.toFixed(3),
    r.buildkitMedian === null ? "-" : r.buildkitMedian.toFixed(3),
    r.ratio === null ? "-" : r.ratio.toFixed(2),
    r.goal?.ratio !== undefined ? `<= ${r.goal.ratio}` : r.goal?.peakRssBytes !== undefined ? `RSS < ${r.goal.peakRssBytes / 2 ** 20} MB` : "-",
    r.peakRssBytes === undefined ? "-" : `${(r.peakRssBytes / 2 ** 20).toFixed(0)} MB`,
    r.met === null ? "?" : r.met ? "yes" : "NO",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}

async function main(): Promise<void> {
  const only = option("--only")?.split(",");
  const runs = Number.parseInt(option("--runs") ?? "5", 10);
  const scenarios = only ? SCENARIOS.filter((s) => only.includes(s.name)) : SCENARIOS;
  const withDocker = await dockerAnswers();
  if (!withDocker) process.stderr.write("BuildKit (the oracle's dockerd) does not answer: timing tsbuild alone\n");
  const scratch = await mkdtemp(join(tmpdir(), "tsbuild-bench-"));
  const results: Result[] = [];
  try {
    for (const s of scenarios) {
      process.stderr.write(`${s.name} `);
      results.push(await runScenario(s, scratch, runs, withDocker));
      process.stderr.write("\n");
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  process.stdout.write(`${formatTable(results)}\n(median of ${runs} alternating runs after a warm-up; ratio = tsbuild/BuildKit)\n`);
  const out = join(REPO, "bench", "results.json");
  await writeFile(out, `${JSON.stringify({ date: new Date().toISOString(), runs, buildkit: withDocker, results }, null, 2)}\n`);
  process.stdout.write(`wrote ${out}\n`);
}

await main();
