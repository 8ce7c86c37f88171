// Fault injection: SIGKILL at random instants of build, load, pull, push and prune. After each kill the
// next command (every command sweeps what dead processes left) and `system check` find the store
// clean (after a killed prune, once a prune has run whole), and the work done again is correct. The instants come from a seeded generator: a
// failure names its seed (TSBUILD_FAULT_SEED=N replays it).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freshStore, removeStore, startTsbuild, tsbuild, tsbuildOk } from "./helpers.js";
import { startRegistry, type TestRegistry } from "./registryserver.js";

const seed = Number(process.env.TSBUILD_FAULT_SEED ?? Date.now() % 100_000);

/** mulberry32: a small seeded generator of numbers in [0, 1). */
function generator(s: number): () => number {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = generator(seed);

/** Runs tsbuild and SIGKILLs it after a random time in [minMs, maxMs) unless it ended first. */
async function killedAt(args: string[], minMs: number, maxMs: number): Promise<string> {
  const ms = Math.floor(minMs + random() * (maxMs - minMs));
  const child = startTsbuild(args);
  child.stdout?.resume();
  child.stderr?.resume();
  const exited = new Promise<void>((r) => child.on("exit", () => r()));
  const timer = setTimeout(() => child.kill("SIGKILL"), ms);
  await exited;
  clearTimeout(timer);
  return `${args.slice(2, 4).join(" ")} killed at ${ms} ms (seed ${seed})`;
}

/** The next command sweeps; then the check must find nothing. */
async function assertClean(root: string, what: string): Promise<void> {
  await tsbuildOk(["--root", root, "images", "-q"]);
  const check = await tsbuild(["--root", root, "system", "check"]);
  assert.equal(check.code, 0, `${what}:\n${check.stdout}${check.stderr}`);
}

let root: string;
let work: string;
let reg: TestRegistry;

before(async () => {
  root = await freshStore();
  work = await mkdtemp(join(tmpdir(), "tsbuild-faults-"));
  reg = await startRegistry();
});

after(async () => {
  await reg.stop();
  await rm(work, { recursive: true, force: true });
  await removeStore(root);
});

test("builds killed at random instants: store clean after each, the rebuild correct", { timeout: 120_000 }, async () => {
  const ctx = join(work, "ctx");
  await mkdir(ctx, { recursive: true });
  await writeFile(join(ctx, "Dockerfile"), "FROM busybox:local\nCOPY . /src\nRUN cat /src/a /src/b > /all; sleep 0.1\nRUN wc -c /all > /count\nCOPY b /b\n");
  for (let i = 0; i < 4; i++) {
    await writeFile(join(ctx, "a"), `a ${i}\n`); // new work each time: no round is all cache hits
    await writeFile(join(ctx, "b"), randomBytes(256 << 10).toString("hex"));
    await assertClean(root, await killedAt(["--root", root, "build", "-q", "-t", "faults:build", ctx], 100, 1200));
  }
  await writeFile(join(ctx, "a"), "a final\n");
  await tsbuildOk(["--root", root, "build", "-q", "-t", "faults:build", ctx]);
  const all = await tsbuildOk(["--root", root, "run", "--rm", "faults:build", "head", "-c", "8", "/all"]);
  assert.equal(all.stdout, "a final\n");
  await assertClean(root, "after the rebuild");
});

test("loads killed at random instants: store clean after each, the load then whole", { timeout: 120_000 }, async () => {
  const other = join(work, "other-store");
  const rootfs = join(work, "rootfs");
  await mkdir(rootfs, { recursive: true });
  await writeFile(join(rootfs, "big"), randomBytes(16 << 20));
  execFileSync("tar", ["-cf", join(work, "rootfs.tar"), "-C", rootfs, "big"]);
  await tsbuildOk(["--root", other, "import", join(work, "rootfs.tar"), "faults:load"]);
  await tsbuildOk(["--root", other, "save", "-o", join(work, "load.tar"), "faults:load"]);
  for (let i = 0; i < 3; i++) {
    await assertClean(root, await killedAt(["--root", root, "load", "-i", join(work, "load.tar")], 150, 900));
  }
  await tsbuildOk(["--root", root, "load", "-i", join(work, "load.tar")]);
  await assertClean(root, "after the load");
  // pushed and pulled below: a second layer
  await tsbuildOk(["--root", other, "tag", "faults:load", `${reg.host}/faults/img:1`]);
  await tsbuildOk(["--root", other, "push", `${reg.host}/faults/img:1`]);
});

test("pushes and pulls killed at random instants: store clean after each, then both complete", { timeout: 120_000 }, async () => {
  const name = `${reg.host}/faults/mine:1`;
  await tsbuildOk(["--root", root, "tag", "faults:load", name]);
  for (let i = 0; i < 2; i++) await assertClean(root, await killedAt(["--root", root, "push", name], 150, 900));
  await tsbuildOk(["--root", root, "push", name]);
  const puller = await mkdtemp(join(tmpdir(), "tsbuild-faults-pull-"));
  try {
    await tsbuildOk(["--root", puller, "images", "-q"]);
    for (let i = 0; i < 2; i++) await assertClean(puller, await killedAt(["--root", puller, "pull", `${reg.host}/faults/img:1`], 150, 900));
    await tsbuildOk(["--root", puller, "pull", `${reg.host}/faults/img:1`]);
    await assertClean(puller, "after the pull");
  } finally {
    await removeStore(puller);
  }
});

test("prunes killed at random instants: the next prune finishes the job, and the store is clean", { timeout: 120_000 }, async () => {
  // (a killed prune may leave garbage it had not reached, snapshots nothing references, which system
  // check reports: it is the next prune's to collect, so each kill is followed by a whole prune)
  for (let i = 0; i < 2; i++) {
    // -a: every image (no container uses one), then every cache entry; loaded again for the next round
    for (const prune of [["image", "prune", "-a", "-f"], ["cache", "prune", "--all", "-f"]]) {
      const what = await killedAt(["--root", root, ...prune], 120, 500);
      await tsbuildOk(["--root", root, ...prune]);
      await assertClean(root, what);
    }
    await tsbuildOk(["--root", root, "load", "-i", join(work, "load.tar")]);
  }
});
