// buildx's named contexts (--build-context NAME=DIR|docker-image://REF) and --no-cache-filter.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freshStore, removeStore, tsbuild, tsbuildOk } from "./helpers.js";

let root: string;
let dir: string;

before(async () => {
  root = await freshStore();
  dir = await mkdtemp(join(tmpdir(), "tsbuild-namedctx-"));
  await mkdir(join(dir, "ctx"));
  await mkdir(join(dir, "extra", "sub"), { recursive: true });
  await writeFile(join(dir, "extra", "sub", "o.txt"), "from the named context\n");
});
after(async () => {
  await removeStore(root);
  await rm(dir, { recursive: true, force: true });
});

const cat = async (image: string, path: string): Promise<string> => (await tsbuildOk(["--root", root, "run", "--rm", image, "cat", path])).stdout;

interface Step { stage: string; instruction: string; cached: boolean; reason?: string }
async function build(args: string[], dockerfile: string): Promise<Step[]> {
  await writeFile(join(dir, "ctx", "Dockerfile"), dockerfile);
  const report = join(dir, "report.json");
  await tsbuildOk(["--root", root, "build", "-q", "--report", report, ...args, join(dir, "ctx")]);
  return (JSON.parse(await readFile(report, "utf8")) as { steps: Step[] }).steps;
}

test("--build-context: a folder for COPY --from, an image for FROM; its files key the step", async () => {
  const df = "FROM mybase\nCOPY --from=extra sub/o.txt /o.txt\nRUN cat /o.txt > /seen\n";
  const args = ["-t", "named:1", "--build-context", "mybase=docker-image://busybox:local", "--build-context", `extra=${join(dir, "extra")}`];
  await build(args, df);
  assert.equal(await cat("named:1", "/seen"), "from the named context\n");
  const again = await build(args, df);
  assert.ok(again.filter((s) => /^(COPY|RUN)/.test(s.instruction)).every((s) => s.cached));
  await writeFile(join(dir, "extra", "sub", "o.txt"), "changed\n");
  const changed = await build(args, df);
  const copy = changed.find((s) => s.instruction.startsWith("COPY"));
  assert.equal(copy?.cached, false);
  assert.match(copy?.reason ?? "", /sub\/o\.txt changed/);
  assert.equal(await cat("named:1", "/seen"), "changed\n");

  const folderBase = await tsbuild(["--root", root, "build", "-q", "--build-context", `mybase=${join(dir, "extra")}`, join(dir, "ctx")]);
  assert.equal(folderBase.code, 1);
  assert.match(folderBase.stderr, /Dockerfile:1: FROM mybase: the build context mybase is a folder/);
  const missing = await tsbuild(["--root", root, "build", "-q", "--build-context", "extra=/nonexistent/folder", join(dir, "ctx")]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /--build-context extra=\/nonexistent\/folder: no such folder/);
});

test("--no-cache-filter rebuilds the named stages only", async () => {
  const df = "FROM busybox:local AS deps\nRUN echo deps > /d\nFROM busybox:local AS app\nCOPY --from=deps /d /d\nRUN echo app > /a\n";
  await build(["-t", "filter:1"], df);
  const steps = await build(["-t", "filter:1", "--no-cache-filter", "app"], df);
  const byStage = (stage: string): boolean[] => steps.filter((s) => s.stage === stage && /^(RUN|COPY)/.test(s.instruction)).map((s) => s.cached);
  assert.deepEqual(byStage("deps"), [true]);
  assert.deepEqual(byStage("app"), [false, false]);
});
