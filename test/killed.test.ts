// Commands killed part-way: what they leave in the store names its owner (pid and start time), and the
// next command, whichever it is, sweeps it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { startTsbuild, tsbuildOk } from "./helpers.js";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "tsbuild-killed-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A docker-archive of one image whose layer holds `mb` MB of random bytes (slow enough to kill a load in). */
async function bigArchive(dir: string, mb: number): Promise<string> {
  const rootfs = join(dir, "rootfs");
  await mkdir(rootfs);
  await writeFile(join(rootfs, "big"), randomBytes(mb << 20));
  execFileSync("tar", ["-cf", join(dir, "rootfs.tar"), "-C", rootfs, "big"]);
  const root = join(dir, "source-store");
  await tsbuildOk(["--root", root, "import", join(dir, "rootfs.tar"), "big:1"]);
  const out = join(dir, "big.tar");
  await tsbuildOk(["--root", root, "save", "-o", out, "big:1"]);
  return out;
}

test("a load killed mid-way leaves a tmp folder that the next command (images) removes", { timeout: 60_000 }, () =>
  withDir(async (dir) => {
    const archive = await bigArchive(dir, 48);
    const root = join(dir, "store");
    await tsbuildOk(["--root", root, "images"]); // the store exists
    const tmp = join(root, "tmp");
    const child = startTsbuild(["--root", root, "load", "-i", archive]);
    const exited = new Promise<void>((r) => child.on("exit", () => r()));
    let seen: string[] = [];
    const until = Date.now() + 30_000; // a bound in time, not in polls: the machine may be loaded
    while (seen.length === 0 && child.exitCode === null && Date.now() < until) {
      seen = (await readdir(tmp)).filter((n) => n.startsWith("load-"));
      if (seen.length === 0) await new Promise((r) => setTimeout(r, 2));
    }
    child.kill("SIGKILL");
    await exited;
    assert.equal(seen.length, 1, "the load made its folder before it was killed");
    assert.ok(existsSync(join(tmp, seen[0] as string)), "the kill leaves it behind");
    assert.match(seen[0] as string, new RegExp(`^load-${child.pid}\\.\\d+-[0-9a-f]{8}$`), "named by its owner");

    await tsbuildOk(["--root", root, "images"]);

    assert.deepEqual(await readdir(tmp), []);
  }));

test("a build killed mid-RUN: image prune does not wait for it (its pins count for nothing), and system check finds nothing left after the next command", { timeout: 120_000 }, async () => {
  const { freshStore, removeStore, tsbuild } = await import("./helpers.js");
  const root = await freshStore();
  try {
    await withDir(async (ctx) => {
      await writeFile(join(ctx, "Dockerfile"), "FROM busybox:local\nRUN echo started > /dev/stderr; sleep 60\n");
      const child = startTsbuild(["--root", root, "build", "--progress", "plain", ctx]);
      const exited = new Promise<void>((r) => child.on("exit", () => r()));
      await new Promise<void>((resolve, reject) => {
        child.stderr?.on("data", (c: Buffer) => c.toString().includes("started") && resolve());
        child.on("exit", (code) => reject(new Error(`build ended early (${code})`)));
      });
      // a build holds the store shared only for moments; what it uses is pinned in a file of its own
      const pins = await readdir(join(root, "pins"));
      assert.equal(pins.length, 1, "the build's pins");
      assert.match(pins[0] as string, new RegExp(`^${child.pid}\\.\\d+-1$`), "named by pid and start time");
      child.kill("SIGKILL");
      await exited;

      const started = Date.now();
      const prune = await tsbuild(["--root", root, "image", "prune", "-f"]);
      assert.equal(prune.code, 0, prune.stderr);
      assert.ok(Date.now() - started < 30_000, "prune did not wait for the killed build");
      const check = await tsbuild(["--root", root, "system", "check"]);
      assert.equal(check.code, 0, check.stdout);
    });
  } finally {
    await removeStore(root);
  }
});
