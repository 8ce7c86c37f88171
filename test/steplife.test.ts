// The life of a filesystem step as the stage loop runs it (builder/stage.ts, builder/fsstep.ts): a step
// built before a failure is finished all the same (its layer committed and cached), a RUN that runs
// over the unfinished step before it leaves nothing behind when it fails, and a RUN after an
// unfinished step sees that step's files.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { freshStore, mountsUnder, removeStore, tsbuild } from "./helpers.js";

function build(root: string, ctx: string): ReturnType<typeof tsbuild> {
  return tsbuild(["--root", root, "build", "--progress", "plain", "--network", "none", "-t", "life:1", ctx]);
}

/** Snapshot folders still marked active (snapshots/active/<id>-<pid>): none once a build has ended. */
function activeMarkers(root: string): string[] {
  try {
    return readdirSync(join(root, "snapshots", "active"));
  } catch (e) {
    if (e instanceof Error && "code" in e && e.code === "ENOENT") return [];
    throw e;
  }
}

describe("a step's life", () => {
  it("a COPY over an unfinished RUN: it sees the RUN's files, and when it fails the RUN is committed and cached all the same", { timeout: 120_000 }, async () => {
    const root = await freshStore();
    const ctx = await mkdtemp(join(tmpdir(), "tsbuild-test-steplife-"));
    try {
      await writeFile(join(ctx, "a.txt"), "a\n");
      // the COPY runs over the RUN's unfinished snapshot: /made is a file there, so copying into it fails
      await writeFile(join(ctx, "Dockerfile"), "FROM busybox:local\nRUN echo made > /made\nCOPY a.txt /made/a.txt\n");
      const failed = await build(root, ctx);
      assert.notEqual(failed.code, 0, "copying below a file fails");
      assert.deepEqual(mountsUnder(root), []);
      assert.deepEqual(activeMarkers(root), []);

      await writeFile(join(ctx, "Dockerfile"), "FROM busybox:local\nRUN echo made > /made\nCOPY a.txt /dir/a.txt\nRUN cat /made /dir/a.txt > /both\n");
      const fixed = await build(root, ctx);
      assert.equal(fixed.code, 0, fixed.stderr);
      assert.match(fixed.stderr, /RUN echo made > \/made\n#\d+ CACHED/, "the RUN built before the failing COPY was cached");
      const run = await tsbuild(["--root", root, "run", "--rm", "life:1", "cat", "/both"]);
      assert.equal(run.stdout, "made\na\n", run.stderr);
      assert.deepEqual(mountsUnder(root), []);
      assert.deepEqual(activeMarkers(root), []);
    } finally {
      await rm(ctx, { recursive: true, force: true });
      await removeStore(root);
    }
  });

  it("a failing RUN over an unfinished COPY: the COPY is committed and cached, nothing is left active or mounted", { timeout: 120_000 }, async () => {
    const root = await freshStore();
    const ctx = await mkdtemp(join(tmpdir(), "tsbuild-test-steplife-"));
    try {
      await writeFile(join(ctx, "a.txt"), "a\n");
      await writeFile(join(ctx, "Dockerfile"), "FROM busybox:local\nCOPY a.txt /a.txt\nRUN test \"$(cat /a.txt)\" = a && exit 3\n");
      const failed = await build(root, ctx);
      assert.notEqual(failed.code, 0);
      assert.match(failed.stderr + failed.stdout, /exit code: 3|code 3|3\b/);
      assert.deepEqual(mountsUnder(root), []);
      assert.deepEqual(activeMarkers(root), []);

      await writeFile(join(ctx, "Dockerfile"), "FROM busybox:local\nCOPY a.txt /a.txt\nRUN cat /a.txt > /b.txt\nRUN cat /b.txt\n");
      const fixed = await build(root, ctx);
      assert.equal(fixed.code, 0, fixed.stderr);
      const out = fixed.stderr + fixed.stdout;
      assert.match(out, /COPY a\.txt \/a\.txt\n#\d+ CACHED/, "the COPY built before the failure was cached");
      assert.deepEqual(mountsUnder(root), []);
      assert.deepEqual(activeMarkers(root), []);
    } finally {
      await rm(ctx, { recursive: true, force: true });
      await removeStore(root);
    }
  });
});
