// Builds racing on one store: eight builds of different Dockerfiles at once, all tagged with the same
// name, sharing some steps (whose snapshots all but one of them drop) and not others.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freshStore, removeStore, tsbuild, tsbuildOk } from "./helpers.js";

test("eight concurrent builds of different Dockerfiles with the same tag all succeed", { timeout: 120_000 }, async () => {
  const root = await freshStore();
  const ctx = await mkdtemp(join(tmpdir(), "tsbuild-concurrent-"));
  try {
    for (let round = 0; round < 3; round++) {
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
      const results = await Promise.all(files.map((f) => tsbuild(["--root", root, "build", "-q", "-t", "same:tag", "-f", f, ctx])));
      const failed = results.filter((r) => r.code !== 0).map((r) => r.stderr.trim());
      assert.deepEqual(failed, [], `round ${round}`);
    }
    const check = await tsbuildOk(["--root", root, "images", "--format", "json"]);
    assert.match(check.stdout, /same/);
  } finally {
    await rm(ctx, { recursive: true, force: true });
    await removeStore(root);
  }
});
