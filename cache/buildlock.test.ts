// Builds hold the store's GC lock shared and prune takes it exclusively (through the real CLI): a prune
// started during a build waits for it, and two builds on one store still run at the same time.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { collect, freshStore, removeStore, startTsbuild, tsbuildOk } from "../test/helpers.js";

async function project(parent: string, name: string, dockerfile: string): Promise<string> {
  const dir = join(parent, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "Dockerfile"), dockerfile);
  return dir;
}

/** Resolves when `dir` holds at least n entries (the shared holders' markers). */
async function entries(dir: string, n: number, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const names = await readdir(dir).catch((e: unknown) => {
      if (e instanceof Error && "code" in e && e.code === "ENOENT") return [];
      throw e;
    });
    if (names.length >= n) return;
    if (Date.now() > until) throw new Error(`${dir} never held ${n} entries (has ${names.join(", ")})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("prune waits for a running build; two builds run side by side", { timeout: 120_000 }, async () => {
  const root = await freshStore();
  const work = await mkdtemp(join(tmpdir(), "tsbuild-buildlock-"));
  const readers = join(root, "locks", "gc.lock.readers");
  try {
    const slow = await project(work, "slow", "FROM busybox:local\nRUN sleep 3 && echo slow > /slow\n");
    const other = await project(work, "other", "FROM busybox:local\nRUN sleep 3 && echo other > /other\n");
    const a = startTsbuild(["--root", root, "build", "--progress", "plain", "--network", "none", "-t", "slow:1", slow]);
    const b = startTsbuild(["--root", root, "build", "--progress", "plain", "--network", "none", "-t", "other:1", other]);
    const builds = [collect(a), collect(b)].map((p) => p.then((r) => ({ ...r, end: Date.now() })));
    await entries(readers, 2); // both builds are inside the lock at once

    const prune = collect(startTsbuild(["--root", root, "cache", "prune", "--all", "--force"]))
      .then((r) => ({ ...r, end: Date.now() }));
    const [ra, rb] = await Promise.all(builds);
    const rp = await prune;
    assert.equal(ra.code, 0, ra.stderr);
    assert.equal(rb.code, 0, rb.stderr);
    assert.equal(rp.code, 0, rp.stderr);
    // A build leaves the lock a little before its process ends, so a quick prune may exit a few ms
    // before the last build does; one that did not wait would end seconds before (the RUNs sleep 3 s).
    assert.ok(rp.end >= Math.max(ra.end, rb.end) - 1000, "prune finished before the builds it waited for");
    assert.deepEqual(await readdir(readers), []);

    // what the builds produced survived the prune: their images and all their blobs are intact
    for (const tag of ["slow:1", "other:1"]) {
      const out = await tsbuildOk(["--root", root, "save", "-o", join(work, "out.tar"), tag]);
      assert.equal(out.code, 0);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
    await removeStore(root);
  }
});
