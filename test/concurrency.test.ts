// Builds racing on one store: eight builds of different Dockerfiles at once, all tagged with the same
// name, sharing some steps (whose snapshots all but one of them drop) and not others.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { busyboxRootfs, collect, freshStore, removeStore, startTsbuild, tsbuild, tsbuildOk } from "./helpers.js";

test("eight concurrent builds of different Dockerfiles with the same tag all succeed, with GC among them; the store checks clean", { timeout: 120_000 }, async () => {
  const root = await freshStore();
  const ctx = await mkdtemp(join(tmpdir(), "tsbuild-concurrent-"));
  try {
    for (let round = 0; round < 2; round++) {
      await writeFile(join(ctx, "common.txt"), `round ${round}\n`);
      const files: string[] = [];
      for (let i = 0; i < 8; i++) {
        const file = join(ctx, `Dockerfile.${round}.${i}`);
        // shared steps first (the same layers in every build: all but one snapshot of each are dropped
        // while the others are being made), then one of its own
        const shared = [1, 2, 3, 4, 5, 6].map((n) => `COPY common.txt /c${n}\n`).join("");
        const own = i % 2 === 0 ? `RUN echo ${i} > /own` : `COPY Dockerfile.${round}.${i} /own`;
        await writeFile(file, `FROM busybox:local\n${shared}${own}\n`);
        files.push(file);
      }
      // from the second round on, garbage collection runs among the builds: it waits for them (or they
      // for it), and takes only what none of them uses (the images the same tag left dangling)
      const gc = round === 0 ? [] : [["image", "prune", "-f"], ["cache", "prune", "-f", "--keep-storage", "1MB"]];
      const results = await Promise.all([
        ...files.map((f) => tsbuild(["--root", root, "build", "-q", "-t", "same:tag", "-f", f, ctx])),
        ...gc.map((args) => tsbuild(["--root", root, ...args])),
      ]);
      const failed = results.filter((r) => r.code !== 0).map((r) => r.stderr.trim());
      assert.deepEqual(failed, [], `round ${round}`);
    }
    const images = await tsbuildOk(["--root", root, "images", "--format", "json"]);
    assert.match(images.stdout, /same/);
    const check = await tsbuild(["--root", root, "system", "check"]);
    assert.equal(check.code, 0, check.stdout);
  } finally {
    await rm(ctx, { recursive: true, force: true });
    await removeStore(root);
  }
});

test("load and import wait for a garbage collection holding the store before they publish (the blobs would go unreferenced)", { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "tsbuild-concurrent-load-"));
  try {
    const source = join(dir, "source");
    await tsbuildOk(["--root", source, "import", await busyboxRootfs(), "loaded:1"]);
    await tsbuildOk(["--root", source, "save", "-o", join(dir, "image.tar"), "loaded:1"]);
    const root = join(dir, "store");
    await tsbuildOk(["--root", root, "images"]);
    const { withExclusiveLock } = await import("../common/lock.js");
    for (const [args, name] of [[["load", "-i", join(dir, "image.tar")], "loaded"], [["import", await busyboxRootfs(), "imported:1"], "imported"]] as const) {
      let child: ChildProcess | undefined;
      await withExclusiveLock(join(root, "locks", "gc.lock"), async () => {
        // this process stands for a prune in progress
        child = startTsbuild(["--root", root, ...args]);
        await new Promise((r) => setTimeout(r, 3000));
        assert.equal(child.exitCode, null, `${args[0]} waits for the prune`);
      });
      const r = await collect(child as ChildProcess);
      assert.equal(r.code, 0, r.stderr);
      assert.match((await tsbuildOk(["--root", root, "images"])).stdout, new RegExp(name));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
