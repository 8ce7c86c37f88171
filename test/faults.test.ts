// Fault injection: SIGKILL at random instants of build, load, pull, push, save and prune. After each kill the
// next command (every command sweeps what dead processes left) and `system check` find the store
// clean (after a killed prune, once a prune has run whole), and the work done again is correct. Then
// builds racing with the same and different tags and a prune among them, and a store on a small tmpfs
// that a base image's unpack fills up. The instants come from a seeded generator: a
// failure names its seed (TSBUILD_FAULT_SEED=N replays it).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { collect, freshStore, removeStore, startTsbuild, storeListing, TSBUILD, tsbuild, tsbuildOk } from "./helpers.js";
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
console.log(`# fault injection seed ${seed} (TSBUILD_FAULT_SEED=${seed} replays it)`);

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

/** Builds a two-RUN Dockerfile, SIGKILLs the build where it pauses (common/testpause.ts), then: store clean, the rebuild correct. */
async function killedAtPause(point: string, name: string): Promise<string> {
  const store = await freshStore();
  const ctx = join(work, `ctx-${name}`);
  const pause = join(work, `${name}-pause`);
  try {
    await mkdir(ctx, { recursive: true });
    await writeFile(join(ctx, "Dockerfile"), "FROM busybox:local\nRUN echo made > /m\nRUN cat /m /m > /mm\n");
    const child = spawn(process.execPath, [TSBUILD, "--root", store, "build", "-q", "-t", `faults:${name}`, ctx], {
      env: { ...process.env, TSBUILD_TEST_PAUSE: `${point}:${pause}` }, stdio: ["ignore", "ignore", "pipe"],
    });
    const ended = collect(child);
    for (let i = 0; !existsSync(`${pause}.reached`); i++) {
      if (child.exitCode !== null || i > 1500) throw new Error(`the build did not reach its pause: ${(await ended).stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGKILL");
    await ended;
    await assertClean(store, `killed at ${point}`);
    const rebuilt = await tsbuildOk(["--root", store, "build", "--progress", "plain", "-t", `faults:${name}`, ctx]);
    const out = await tsbuildOk(["--root", store, "run", "--rm", `faults:${name}`, "cat", "/mm"]);
    assert.equal(out.stdout, "made\nmade\n");
    await assertClean(store, "after the rebuild");
    return rebuilt.stderr;
  } finally {
    await rm(`${pause}.reached`, { force: true });
    await removeStore(store);
  }
}

test("a build killed between a step's cache entry and its snapshot's link: store clean, the rebuild hits and is correct", { timeout: 60_000 }, async () => {
  // the first step pauses once its entry is stored, its snapshot still unpublished
  const rebuilt = await killedAtPause("step-entry-stored", "entry");
  assert.match(rebuilt, /RUN echo made[^\n]*\n[^\n]*CACHED|CACHED[^\n]*RUN echo made/, rebuilt);
});

test("a build killed while it writes a cache entry (written, not yet renamed into place): store clean, the rebuild correct", { timeout: 60_000 }, async () => {
  await killedAtPause("atomic-write-keys", "entry-write");
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

test("saves killed at random instants: store clean after each, the output never a partial archive; then a whole save loads", { timeout: 60_000 }, async () => {
  const out = join(work, "saved", "image.tar");
  await mkdir(join(work, "saved"), { recursive: true });
  for (let i = 0; i < 3; i++) {
    const what = await killedAt(["--root", root, "save", "-o", out, "faults:load"], 100, 700);
    await assertClean(root, what);
    assert.deepEqual(await readdirNoTemp(join(work, "saved")), existsSync(out) ? ["image.tar"] : [], what);
  }
  await tsbuildOk(["--root", root, "save", "-o", out, "faults:load"]);
  // the whole save removed the partial files the killed ones left beside its output
  assert.deepEqual((await readdir(join(work, "saved"))).sort(), ["image.tar"]);
  const other = await mkdtemp(join(tmpdir(), "tsbuild-faults-save-"));
  try {
    await tsbuildOk(["--root", other, "load", "-i", out]);
    await assertClean(other, "the saved archive loaded");
  } finally {
    await removeStore(other);
  }
});

/** The folder's names but a killed save's temporary file (a dotted name beside the output, which the user's folder keeps). */
async function readdirNoTemp(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => !/^\.image\.tar\.tmp-/.test(n)).sort();
}

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

test("builds racing with the same and different tags, an image prune and a cache prune among them: all succeed, each tag right, the store clean", { timeout: 120_000 }, async () => {
  // a store of its own: the prunes of the tests before leave the shared one without busybox:local
  const root = await freshStore();
  try {
    const ctx = join(work, "race");
    await mkdir(ctx, { recursive: true });
    const tags = ["race:same", "race:same", "race:one", "race:two", "race:same"];
    const jobs: Array<() => Promise<{ code: number | null; stderr: string; what: string }>> = tags.map((tag, i) => async () => {
      const file = join(ctx, `Dockerfile.${i}`);
      await writeFile(file, `FROM busybox:local\nCOPY shared /shared\nRUN echo ${i} > /own\n`);
      return { ...(await tsbuild(["--root", root, "build", "-q", "-t", tag, "-f", file, ctx])), what: `build ${i} -t ${tag}` };
    });
    jobs.push(async () => ({ ...(await tsbuild(["--root", root, "image", "prune", "-f"])), what: "image prune" }));
    jobs.push(async () => ({ ...(await tsbuild(["--root", root, "cache", "prune", "-f"])), what: "cache prune" }));
    await writeFile(join(ctx, "shared"), `seed ${seed}\n`);
    // started in a seeded order, a few milliseconds apart
    const order = jobs.map((job, i) => ({ job, key: random(), i })).sort((a, b) => a.key - b.key);
    const results = await Promise.all(order.map(({ job }, n) => new Promise<Awaited<ReturnType<typeof job>>>((resolve, reject) => {
      setTimeout(() => job().then(resolve, reject), n * Math.floor(random() * 40));
    })));
    const failed = results.filter((r) => r.code !== 0).map((r) => `${r.what}: ${r.stderr.trim()}`);
    assert.deepEqual(failed, [], `seed ${seed}`);
    for (const tag of ["race:one", "race:two"]) {
      const own = await tsbuildOk(["--root", root, "run", "--rm", tag, "cat", "/own"]);
      assert.equal(own.stdout, tag === "race:one" ? "2\n" : "3\n", `${tag} (seed ${seed})`);
    }
    const same = await tsbuildOk(["--root", root, "run", "--rm", "race:same", "cat", "/own"]);
    assert.match(same.stdout, /^[014]\n$/, `race:same is one of its builds (seed ${seed})`);
    const check = await tsbuild(["--root", root, "system", "check"]);
    assert.equal(check.code, 0, `seed ${seed}:\n${check.stdout}`);
  } finally {
    await removeStore(root);
  }
});

test("a store on a small tmpfs that unpacking a base image fills: one line naming the place, the store as it was", { timeout: 60_000 }, async () => {
  const small = join(work, "small");
  await mkdir(small, { recursive: true });
  // an image of a 3 MB layer: stored it fits, unpacked beside its blob it does not
  const src = join(work, "fill");
  await mkdir(join(src, "rootfs"), { recursive: true });
  await writeFile(join(src, "rootfs", "big"), randomBytes(3 << 20));
  execFileSync("tar", ["-cf", join(src, "layer.tar"), "-C", join(src, "rootfs"), "big"]);
  const other = join(src, "store");
  await tsbuildOk(["--root", other, "import", join(src, "layer.tar"), "fill:1"]);
  await tsbuildOk(["--root", other, "save", "-o", join(src, "fill.tar"), "fill:1"]);
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=5m", "tmpfs", small]);
  try {
    const store = join(small, "store");
    // the load itself succeeds; unpacking it as it arrives does not fit, and is left to the first use
    const loaded = await tsbuildOk(["--root", store, "load", "-i", join(src, "fill.tar")]);
    assert.match(loaded.stderr, /^tsbuild: fill:1 is stored but not unpacked \(no space left on device\): its first use unpacks it$/m);
    const before = storeListing(store);
    await writeFile(join(src, "Dockerfile"), "FROM fill:1\nCOPY Dockerfile /d\n");
    const r = await tsbuild(["--root", store, "build", "-q", "-t", "filled:1", src]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^error: no space left on device writing \/[^\n]+: free some \(tsbuild image prune, tsbuild cache prune\) or put the store where there is room \(--root\)\n$/);
    assert.deepEqual(storeListing(store), before, "the store as it was");
    const check = await tsbuild(["--root", store, "system", "check"]);
    assert.equal(check.code, 0, check.stdout);
  } finally {
    execFileSync("umount", ["-l", small]);
    await removeStore(other);
  }
});
