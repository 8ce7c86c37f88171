// Builds pin what they use (common/pins.ts) instead of holding the GC lock for their whole run (through
// the real CLI): two builds on one store run at the same time, a prune started during them does not wait
// for them (test/gc.test.ts) and removes nothing they use.
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

/** Resolves when `dir` holds pin files of at least n processes (`<pid>.<start>-<n>`). */
async function pinners(dir: string, n: number, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const names = await readdir(dir).catch((e: unknown) => {
      if (e instanceof Error && "code" in e && e.code === "ENOENT") return [];
      throw e;
    });
    if (new Set(names.map((name) => name.split(".")[0])).size >= n) return;
    if (Date.now() > until) throw new Error(`${dir} never held ${n} entries (has ${names.join(", ")})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("two builds run side by side; a prune during them does not wait and removes nothing they use", { timeout: 120_000 }, async () => {
  const root = await freshStore();
  const work = await mkdtemp(join(tmpdir(), "tsbuild-buildlock-"));
  const pins = join(root, "pins");
  try {
    const slow = await project(work, "slow", "FROM busybox:local\nRUN sleep 3 && echo slow > /slow\n");
    const other = await project(work, "other", "FROM busybox:local\nRUN sleep 3 && echo other > /other\n");
    const a = startTsbuild(["--root", root, "build", "--progress", "plain", "--network", "none", "-t", "slow:1", slow]);
    const b = startTsbuild(["--root", root, "build", "--progress", "plain", "--network", "none", "-t", "other:1", other]);
    const builds = [collect(a), collect(b)].map((p) => p.then((r) => ({ ...r, end: Date.now() })));
    await pinners(pins, 2); // both builds have pinned their bases: both are running

    const prune = collect(startTsbuild(["--root", root, "cache", "prune", "--all", "--force"]))
      .then((r) => ({ ...r, end: Date.now() }));
    const [ra, rb] = await Promise.all(builds);
    const rp = await prune;
    assert.equal(ra.code, 0, ra.stderr);
    assert.equal(rb.code, 0, rb.stderr);
    assert.equal(rp.code, 0, rp.stderr);
    // (that a prune does not wait for a build is test/gc.test.ts's, with the build paused at a known point)
    assert.deepEqual(await readdir(pins), [], "the builds dropped their pins");

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
