// `tsbuild plan` says what the build then does: on every cache sequence the project has (its own cases
// and the public ones), before each build of the sequence the plan's decision for every step it
// decides (cached or rebuild) equals the build's, and planning leaves the store as it was.
import { describe, it, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { caseDirs, freshStore, loadCase, OWN_CASES, PUBLIC_CASES, removeStore, setCaseModes, storeListing, tsbuild, tsbuildOk } from "./helpers.js";

interface PlanStep { stage: string; instruction: string; line: number; cached: boolean; planned: string; reason: string | null }
interface ReportStep { stage: string; instruction: string; line: number; cached: boolean }

/** Cache entries and snapshots: what a plan must not add to. */
function storeState(root: string): string {
  const list = (d: string): string[] => {
    try {
      return readdirSync(join(root, d)).sort();
    } catch {
      return [];
    }
  };
  return JSON.stringify({ listing: [...storeListing(root).blobs.keys()], index: storeListing(root).index, cache: list("cache/entries"), snapshots: list("snapshots").filter((n) => /^\d+$/.test(n) && statSync(join(root, "snapshots", n)).isDirectory()) });
}

const sequences = [...caseDirs(OWN_CASES), ...caseDirs(PUBLIC_CASES)].filter((dir) => {
  const spec = loadCase(dir);
  return spec.sequence.length > 1 && JSON.parse(readFileSync(join(dir, "case.json"), "utf8")).expect_fail !== true;
});

describe("tsbuild plan predicts every build of every cache sequence", { concurrency: 2 }, () => {
  it("finds the sequences", () => assert.ok(sequences.length >= 10, `${sequences.length} sequences`));
  for (const dir of sequences) {
    const label = dir.startsWith(OWN_CASES) ? basename(dir) : `public/${basename(dir)}`;
    it(label, { timeout: 300_000 }, async () => {
      const spec = loadCase(dir);
      const root = await freshStore();
      const work = await mkdtemp(join(tmpdir(), "tsbuild-plan-case-"));
      try {
        await cp(dir, work, { recursive: true, verbatimSymlinks: true });
        setCaseModes(work, dir.startsWith(PUBLIC_CASES));
        for (const [i, step] of spec.sequence.entries()) {
          if (step.run) execFileSync("bash", ["-c", step.run], { cwd: work });
          const args = ["-f", join(work, spec.dockerfile)];
          for (const [k, v] of Object.entries({ ...spec.build_args, ...step.build_args })) args.push("--build-arg", `${k}=${v}`);
          if (spec.target) args.push("--target", spec.target);
          args.push(join(work, spec.context));
          const before = storeState(root);
          const planned = await tsbuild(["--root", root, "plan", "--format", "json", ...args]);
          assert.equal(planned.code, 0, `plan ${i}: ${planned.stderr}`);
          assert.equal(storeState(root), before, `plan ${i} changed the store`);
          const plan = (JSON.parse(planned.stdout) as { steps: PlanStep[] }).steps;
          const report = join(work, `.report-${i}.json`);
          const built = await tsbuild(["--root", root, "build", "-q", "--report", report, "-t", "plan-case:1", ...args]);
          assert.equal(built.code, 0, `build ${i}: ${built.stderr}`);
          const steps = (JSON.parse(readFileSync(report, "utf8")) as { steps: ReportStep[] }).steps;
          for (const p of plan.filter((s) => s.planned !== "depends")) {
            const b = steps.find((s) => s.stage === p.stage && s.line === p.line && s.instruction === p.instruction);
            assert.ok(b, `build ${i}: no step ${p.stage}:${p.line} ${p.instruction}`);
            assert.equal(p.cached, b.cached, `build ${i}: ${p.stage}:${p.line} ${p.instruction}: planned ${p.planned} (${p.reason ?? ""}), built ${b.cached ? "cached" : "rebuilt"}`);
          }
        }
      } finally {
        await rm(work, { recursive: true, force: true });
        await removeStore(root);
      }
    });
  }
});

test("plan's table names the reasons, `will rebuild (parent)` and what a step depends on", async () => {
  const root = await freshStore();
  const ctx = await mkdtemp(join(tmpdir(), "tsbuild-plan-"));
  try {
    await writeFile(join(ctx, "a.txt"), "1\n");
    await writeFile(join(ctx, "Dockerfile"), "FROM busybox:local AS deps\nCOPY a.txt /a\nRUN cat /a > /b\nFROM busybox:local\nCOPY --from=deps /b /b\nRUN cat /b\n");
    const first = (await tsbuildOk(["--root", root, "plan", ctx])).stdout;
    assert.match(first, /^deps +2 +COPY a\.txt \/a +will rebuild: not built before/m);
    assert.match(first, /^stage-1 +5 +COPY --from=deps \/b \/b +depends: depends on stage deps, which will rebuild/m);
    await tsbuildOk(["--root", root, "build", "-q", ctx]);
    assert.match((await tsbuildOk(["--root", root, "plan", ctx])).stdout, /plan: 4 of 4 steps cached, 0 will rebuild/);
    await writeFile(join(ctx, "a.txt"), "2\n");
    const changed = (await tsbuildOk(["--root", root, "plan", ctx])).stdout;
    assert.match(changed, /^deps +2 +COPY a\.txt \/a +will rebuild: a\.txt changed +~\d+\.\ds$/m);
    assert.match(changed, /^deps +3 +RUN cat \/a > \/b +will rebuild \(parent\) +~\d+\.\ds$/m);
    assert.match(changed, /plan: 0 of 4 steps cached, 2 will rebuild \(~\d+\.\ds as last built\), 2 depend on what only the build can tell/);
  } finally {
    await rm(ctx, { recursive: true, force: true });
    await removeStore(root);
  }
});

test("plan writes no build report: --report and --report-html are one-line errors, nothing written", async () => {
  const root = await freshStore();
  const work = await mkdtemp(join(tmpdir(), "tsbuild-plan-report-"));
  try {
    await writeFile(join(work, "Dockerfile"), "FROM busybox:local\nRUN true\n");
    for (const flag of ["--report", "--report-html"]) {
      const r = await tsbuild(["--root", root, "plan", flag, join(work, "out"), work]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /^error: plan writes no build report/);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.deepEqual(readdirSync(work), ["Dockerfile"]);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
    await removeStore(root);
  }
});
