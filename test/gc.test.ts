// The one garbage collector (cache/gc/): after rmi, image prune, cache prune and system prune the
// store is clean (`system check`: no snapshot or blob nothing references), nothing reachable went (an
// image, a container's image, a cache entry, a live pin still works), the bytes reported are the bytes
// freed on disk, and pins (common/pins.ts) of live processes hold while those of dead ones do not.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, lstatSync, readdirSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Digest } from "../common/digest.js";
import { Lease, pinsDir } from "../common/pins.js";
import { storePaths } from "../common/storepaths.js";
import { chainIds } from "../image/config.js";
import { ContentStore } from "../image/store.js";
import { Snapshotter } from "../runtime/snapshotter.js";
import { pruneStore } from "../cli/commands/cache.js";
import { dockerSize } from "../cli/commands/sizes.js";
import { collect, freshStore, packImage, removeStore, TSBUILD, tsbuild, tsbuildOk, type RunResult } from "./helpers.js";

/** `system check` exit 0 and its summary line. */
async function assertClean(root: string, after: string): Promise<void> {
  const r = await tsbuild(["--root", root, "system", "check"]);
  assert.equal(r.code, 0, `system check after ${after}:\n${r.stdout}${r.stderr}`);
}

/** Bytes on disk as the collector counts them: blobs' files, and regular files in snapshots' fs dirs. */
function storeBytes(root: string): number {
  let total = 0;
  const blobs = join(root, "blobs", "sha256");
  for (const n of existsSync(blobs) ? readdirSync(blobs) : []) total += lstatSync(join(blobs, n)).size;
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) total += lstatSync(p).size;
    }
  };
  const snaps = join(root, "snapshots");
  for (const n of existsSync(snaps) ? readdirSync(snaps) : []) if (/^\d+$/.test(n) && existsSync(join(snaps, n, "fs"))) walk(join(snaps, n, "fs"));
  return total;
}

async function context(files: Record<string, string>): Promise<string> {
  const ctx = await mkdtemp(join(tmpdir(), "tsbuild-gc-ctx-"));
  for (const [name, text] of Object.entries(files)) await writeFile(join(ctx, name), text);
  return ctx;
}

/** The token of a process that has exited. */
async function deadOwner(): Promise<string> {
  const child = spawn("true", { stdio: "ignore" });
  await new Promise<void>((r) => child.on("exit", () => r()));
  return `${child.pid as number}.1`;
}

test("rmi, image prune -a, cache prune --all: system check clean after each; what is still used keeps working", { timeout: 120_000 }, async () => {
  const root = await freshStore();
  const ctx = await context({ f: "one\n", g: "two\n", Dockerfile: "FROM busybox:local\nRUN echo hi > /a\nCOPY f /f\n" });
  try {
    await tsbuildOk(["--root", root, "build", "-q", "-t", "app:1", ctx]);
    await writeFile(join(ctx, "Dockerfile"), "FROM busybox:local\nRUN echo hi > /a\nCOPY g /g\n");
    await tsbuildOk(["--root", root, "build", "-q", "-t", "app:2", ctx]);
    // a stopped container of busybox:local, whose image then loses its tag (rmi -f): nothing it needs may go
    await tsbuildOk(["--root", root, "run", "--name", "keep", "busybox:local", "sh", "-c", "echo kept > /k"]);
    await assertClean(root, "builds");

    const rmi = await tsbuildOk(["--root", root, "rmi", "app:2"]);
    assert.match(rmi.stdout, /^Untagged: app:2\nDeleted: sha256:[0-9a-f]{64}\n/);
    await assertClean(root, "rmi app:2");
    assert.equal((await tsbuildOk(["--root", root, "run", "--rm", "app:1", "cat", "/f", "/a"])).stdout, "one\nhi\n");

    await tsbuildOk(["--root", root, "rmi", "-f", "busybox:local"]);
    await tsbuildOk(["--root", root, "image", "prune", "-a", "-f"]);
    await assertClean(root, "image prune -a");
    assert.doesNotMatch((await tsbuildOk(["--root", root, "images"])).stdout, /app/);

    // the cache entries stayed (RUN, COPY f, COPY g), with what they hold (system check: their snapshots and layers)
    const cached = await tsbuildOk(["--root", root, "cache", "ls", "--format", "json"]);
    assert.equal((JSON.parse(cached.stdout) as unknown[]).length, 3);

    const pruned = await tsbuildOk(["--root", root, "cache", "prune", "--all", "-f"]);
    assert.match(pruned.stdout, /^Deleted build cache objects:\n/);
    await assertClean(root, "cache prune --all");
    // the container's image (dangling, kept for it) is whole: it commits and runs
    await tsbuildOk(["--root", root, "commit", "keep", "kept:1"]);
    assert.equal((await tsbuildOk(["--root", root, "run", "--rm", "kept:1", "cat", "/k"])).stdout, "kept\n");
    await assertClean(root, "commit");
  } finally {
    await rm(ctx, { recursive: true, force: true });
    await removeStore(root);
  }
});

test("the bytes a prune reports are the bytes it freed; system prune empties a store of unused things", { timeout: 120_000 }, async () => {
  const root = await freshStore();
  const ctx = await context({ big: "x".repeat(300_000), Dockerfile: "FROM busybox:local\nCOPY big /big\nRUN cp /big /big2\n" });
  try {
    await tsbuildOk(["--root", root, "build", "-q", "-t", "app:1", ctx]);
    await writeFile(join(ctx, "big"), "y".repeat(200_000));
    await tsbuildOk(["--root", root, "build", "-q", "-t", "app:1", ctx]); // the first app:1 is dangling now
    await tsbuildOk(["--root", root, "image", "prune", "-f"]);
    const before = storeBytes(root);
    const result = await pruneStore(root, { all: true });
    assert.ok(result.reclaimedBytes > 400_000, `${result.reclaimedBytes}`);
    assert.equal(before - storeBytes(root), result.reclaimedBytes);
    await assertClean(root, "cache prune --all");

    await tsbuildOk(["--root", root, "run", "--name", "stopped", "app:1", "true"]);
    const full = storeBytes(root);
    const sys = await tsbuildOk(["--root", root, "system", "prune", "-a", "-f"]);
    assert.match(sys.stdout, /^Deleted Containers:\n[0-9a-f]{64}\n\nDeleted Images:\n(untagged: (app:1|busybox:local)\n){2}(deleted: sha256:[0-9a-f]{64}\n)+\n/);
    const total = /Total reclaimed space: (\S+)\n$/.exec(sys.stdout)?.[1];
    assert.equal(total, dockerSize(full - storeBytes(root)));
    await assertClean(root, "system prune -a");
    assert.deepEqual((await readdir(join(root, "blobs", "sha256"))).length, 0, "no blob left");
    assert.deepEqual(await new Snapshotter(storePaths(root)).list(), [], "no snapshot left");
  } finally {
    await rm(ctx, { recursive: true, force: true });
    await removeStore(root);
  }
});

test("pins: what a live process pinned survives rmi and every prune; a dead process's pins hold nothing and go", { timeout: 120_000 }, async () => {
  const root = await freshStore();
  const ctx = await context({ f: "pinned\n", Dockerfile: "FROM busybox:local\nCOPY f /f\n" });
  const paths = storePaths(root);
  try {
    await tsbuildOk(["--root", root, "build", "-q", "-t", "app:1", ctx]);
    const store = await ContentStore.open(paths);
    const rec = await store.resolveImage("app:1");
    const blobs: Digest[] = [rec.manifestDigest, rec.configDigest, ...rec.manifest.layers.map((l) => l.digest)];
    const chains = chainIds(rec.config.rootfs.diff_ids);

    // this process stands for a build that uses app:1
    const lease = new Lease(paths);
    await lease.pin("manifest", [rec.manifestDigest]);
    const dead = await deadOwner();
    await mkdir(pinsDir(paths), { recursive: true });
    await writeFile(join(pinsDir(paths), `${dead}-1`), `manifest ${rec.manifestDigest}\n`);
    await tsbuildOk(["--root", root, "rmi", "app:1", "busybox:local"]);
    await tsbuildOk(["--root", root, "system", "prune", "-a", "-f"]);
    const snapshotter = new Snapshotter(paths);
    for (const d of blobs) assert.ok(await store.has(d), `pinned ${d} kept`);
    for (const c of chains) assert.ok(await snapshotter.has(c), `pinned chain ${c} kept`);
    assert.deepEqual(await readdir(pinsDir(paths)), (await readdir(pinsDir(paths))).filter((n) => !n.startsWith(`${dead}-`)), "the dead pin went");
    assert.ok(!existsSync(join(pinsDir(paths), `${dead}-1`)), "the dead process's pin file was removed");
    await assertClean(root, "prunes beside a live pin"); // a snapshot only a pin holds is referenced

    lease.end();
    await tsbuildOk(["--root", root, "system", "prune", "-a", "-f"]);
    for (const d of blobs) assert.ok(!(await store.has(d)), `${d} collected once unpinned`);
    assert.deepEqual(await snapshotter.list(), []);
    await assertClean(root, "the last prune");
  } finally {
    await rm(ctx, { recursive: true, force: true });
    await removeStore(root);
  }
});

test("rmi of an image nothing else holds takes its snapshots too (rmi collected blobs only, and system check then found them)", { timeout: 60_000 }, async () => {
  const root = await freshStore();
  try {
    await tsbuildOk(["--root", root, "run", "--rm", "busybox:local", "true"]); // unpacks its layer into a snapshot
    assert.equal((await new Snapshotter(storePaths(root)).list()).length, 1);
    await tsbuildOk(["--root", root, "rmi", "busybox:local"]);
    assert.deepEqual(await new Snapshotter(storePaths(root)).list(), []);
    await assertClean(root, "rmi");
  } finally {
    await removeStore(root);
  }
});

/** Starts a command that pauses at `point` (common/testpause.ts: a build once it has pinned its bases); go() lets it finish. */
async function pausedBuild(root: string, args: string[], point = "bases-pinned"): Promise<{ result: Promise<RunResult>; go: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "tsbuild-gc-pause-"));
  const file = join(dir, "pause");
  const child = spawn(TSBUILD, ["--root", root, ...args], { env: { ...process.env, TSBUILD_TEST_PAUSE: `${point}:${file}` }, stdio: ["ignore", "pipe", "pipe"] });
  const result = collect(child).finally(() => rm(dir, { recursive: true, force: true }));
  for (let i = 0; !existsSync(`${file}.reached`); i++) {
    if (child.exitCode !== null || i > 1500) throw new Error(`the build did not reach its pause: ${(await result).stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { result, go: () => writeFile(`${file}.go`, "") };
}

test("a prune during a build (paused once its bases are pinned) does not wait for it and takes nothing it uses", { timeout: 120_000 }, async () => {
  const root = await freshStore();
  const ctx = await context({ f: "from the context\n", Dockerfile: "FROM busybox:local\nRUN echo ran > /r\nCOPY f /f\n" });
  try {
    await tsbuildOk(["--root", root, "build", "-q", "-t", "app:1", ctx]); // its cache entries: the next build hits them
    const build = await pausedBuild(root, ["build", "-q", "-t", "app:2", ctx]);
    // while the build waits, the base loses its tag and every prune runs to its end (none waits for the build)
    for (const args of [["rmi", "app:1", "busybox:local"], ["system", "prune", "-a", "-f"], ["cache", "prune", "--all", "-f"]]) {
      const started = Date.now();
      const r = await tsbuild(["--root", root, ...args]);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /waiting/, `${args.join(" ")} waited for the paused build`);
      assert.ok(Date.now() - started < 20_000);
    }
    await build.go();
    const built = await build.result;
    assert.equal(built.code, 0, built.stderr);
    assert.equal((await tsbuildOk(["--root", root, "run", "--rm", "app:2", "cat", "/r", "/f"])).stdout, "ran\nfrom the context\n");
    await assertClean(root, "the build");
    await tsbuildOk(["--root", root, "system", "prune", "-a", "-f"]);
    await assertClean(root, "a prune after the build");
  } finally {
    await rm(ctx, { recursive: true, force: true });
    await removeStore(root);
  }
});

test("save pins what it reads: an rmi and a prune once it has resolved its image take none of it", { timeout: 120_000 }, async () => {
  const root = await freshStore();
  const other = await freshStore();
  const ctx = await context({ f: "saved\n", Dockerfile: "FROM busybox:local\nCOPY f /f\n" });
  const out = join(ctx, "saved.tar");
  try {
    await tsbuildOk(["--root", root, "build", "-q", "-t", "kept:1", ctx]);
    const save = await pausedBuild(root, ["save", "-o", out, "kept:1"], "save-resolved");
    for (const args of [["rmi", "kept:1", "busybox:local"], ["system", "prune", "-a", "-f"]]) await tsbuildOk(["--root", root, ...args]);
    await save.go();
    const saved = await save.result;
    assert.equal(saved.code, 0, saved.stderr);
    await tsbuildOk(["--root", other, "load", "-i", out]);
    assert.equal((await tsbuildOk(["--root", other, "run", "--rm", "kept:1", "cat", "/f"])).stdout, "saved\n");
    await tsbuildOk(["--root", root, "system", "prune", "-a", "-f"]);
    await assertClean(root, "a prune after the save");
  } finally {
    await rm(ctx, { recursive: true, force: true });
    await removeStore(root);
    await removeStore(other);
  }
});

test("a base removed between its resolution and its use (by hand: a pinned one is never collected) fails the build in one line naming it", { timeout: 60_000 }, async () => {
  const root = await freshStore();
  const ctx = await context({ Dockerfile: "FROM busybox:local\nRUN true\n" });
  try {
    const store = await ContentStore.open(storePaths(root));
    const layer = (await store.resolveImage("busybox:local")).manifest.layers[0]!.digest;
    await packImage(root, "busybox:local"); // the build then reads the layer to unpack it
    const build = await pausedBuild(root, ["build", "-q", "-t", "app:1", ctx]);
    await rm(store.blobPath(layer));
    await build.go();
    const r = await build.result;
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`Dockerfile:1.*base image busybox:local: its layer ${layer} was removed from the store while the build used it`));
  } finally {
    await rm(ctx, { recursive: true, force: true });
    await removeStore(root);
  }
});

test("builds and prunes in a loop: every build succeeds with a whole image, and the store checks clean", { timeout: 180_000 }, async () => {
  const root = await freshStore();
  const ctx = await context({ Dockerfile: "FROM busybox:local\n" });
  try {
    for (let round = 0; round < 2; round++) {
      const files: string[] = [];
      for (let i = 0; i < 3; i++) {
        await writeFile(join(ctx, `f${i}`), `round ${round} build ${i}\n`);
        const file = join(ctx, `Dockerfile.${i}`);
        await writeFile(file, `FROM busybox:local\nRUN echo ${i} > /i\nCOPY f${i} /f\n`);
        files.push(file);
      }
      const builds = files.map((f, i) => tsbuild(["--root", root, "build", "-q", "-t", `loop:${i}`, "-f", f, ctx]));
      const prunes = [["system", "prune", "-f"], ["cache", "prune", "--all", "-f"], ["image", "prune", "-f"]].map((a) => tsbuild(["--root", root, ...a]));
      const results = await Promise.all([...builds, ...prunes]);
      assert.deepEqual(results.filter((r) => r.code !== 0).map((r) => r.stderr.trim()), [], `round ${round}`);
      for (let i = 0; i < 3; i++) {
        assert.equal((await tsbuildOk(["--root", root, "run", "--rm", `loop:${i}`, "cat", "/i", "/f"])).stdout, `${i}\nround ${round} build ${i}\n`);
      }
      await assertClean(root, `round ${round}`);
    }
  } finally {
    await rm(ctx, { recursive: true, force: true });
    await removeStore(root);
  }
});
