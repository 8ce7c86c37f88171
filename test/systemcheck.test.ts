// `tsbuild system check [--repair]`: clean on a store builds made; each kind of damage and leftover
// found, one line each; --repair removes what is safe and says so; the store is clean after it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { spawn } from "node:child_process";
import { access, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { collect, freshStore, removeStore, startTsbuild, tsbuild, tsbuildOk, type RunResult } from "./helpers.js";

const hex = (s: string): string => createHash("sha256").update(s).digest("hex");

/** The owner token of a process that has exited. */
async function deadOwner(): Promise<string> {
  const child = spawn("true", { stdio: "ignore" });
  await new Promise<void>((r) => child.on("exit", () => r()));
  return `${child.pid as number}.1`;
}

test("system check: clean after builds; damage and leftovers found one line each; --repair removes what is safe", { timeout: 60_000 }, async () => {
  const root = await freshStore();
  const ctx = await mkdtemp(join(tmpdir(), "tsbuild-check-"));
  try {
    await writeFile(join(ctx, "f"), "x\n");
    await writeFile(join(ctx, "Dockerfile"), "FROM busybox:local\nRUN echo hi > /a\nCOPY f /f\n");
    await tsbuildOk(["--root", root, "build", "-q", "-t", "app", ctx]);
    const clean = await tsbuild(["--root", root, "system", "check"]);
    assert.equal(clean.code, 0, clean.stdout + clean.stderr);
    assert.match(clean.stdout, /^system check: clean; checked \d+ blobs, 2 images, 3 snapshots, 2 cache entries, 0 containers\n$/);

    const dead = await deadOwner();
    await writeFile(join(root, "blobs", "sha256", hex("x")), "y"); // a blob whose bytes are not its name
    await mkdir(join(root, "tmp", `load-${dead}-0123abcd`, "staging"), { recursive: true });
    await mkdir(join(root, "locks", "gc.lock.readers"), { recursive: true });
    await writeFile(join(root, "locks", "gc.lock.readers", `${dead}-1`), dead);
    await writeFile(join(root, "locks", "index.lock"), dead);
    await symlink("../999", join(root, "snapshots", "chains", hex("dangling")));
    await mkdir(join(root, "snapshots", "500", "fs"), { recursive: true });
    await writeFile(join(root, "snapshots", "500", "owner"), dead);
    await writeFile(join(root, "snapshots", "active", `500-${dead}`), "");
    // a committed, published snapshot nothing uses
    await mkdir(join(root, "snapshots", "501", "fs"), { recursive: true });
    await writeFile(join(root, "snapshots", "501", "meta.json"), JSON.stringify({ chainId: `sha256:${hex("unused")}`, parent: null, lowers: [501] }));
    await symlink("../501", join(root, "snapshots", "chains", hex("unused")));
    // a cache entry whose snapshot is gone
    await writeFile(join(root, "cache", "keys", `${hex("key")}.json`), `${JSON.stringify({ key: `sha256:${hex("key")}`, chainId: `sha256:${hex("gone")}` })}\n{}\n`);
    await writeFile(join(root, "cache", "keys", `${hex("key")}.json.tmp-${dead}-0badf00d`), "half");
    // an entry whose snapshot was never made but whose layer is stored (one from --cache-from): sound
    const layer = (await readdir(join(root, "blobs", "sha256"))).find((n) => n !== hex("x")) as string; // not the corrupt one (repaired away)
    await writeFile(join(root, "cache", "keys", `${hex("lazy")}.json`), `${JSON.stringify({ key: `sha256:${hex("lazy")}`, chainId: `sha256:${hex("not made")}`, diffId: `sha256:${layer}` })}\n{}\n`);
    // a build killed right after publishing snapshot 1: its owner file and marker are still there
    await writeFile(join(root, "snapshots", "1", "owner"), dead);
    await writeFile(join(root, "snapshots", "active", `1-${dead}`), "");

    const found = await tsbuild(["--root", root, "system", "check"]);
    assert.equal(found.code, 1, found.stderr);
    const lines = found.stdout.trimEnd().split("\n");
    const expected = [
      `blobs/sha256/${hex("x")}: content hashes to sha256:${hex("y")} (corrupt blob)`,
      `cache/keys/${hex("key")}.json: its snapshot sha256:${hex("gone")} is missing or broken`,
      `snapshots/chains/${hex("dangling")}: points to ../999, which is not a committed snapshot`,
      `snapshots/501 (sha256:${hex("unused")}): nothing references it`,
      `snapshots/500: active snapshot of a dead process (${dead.split(".")[0]})`,
      `tmp/load-${dead}-0123abcd: left by a dead process`,
      `locks/index.lock: lock held by a dead process`,
      `cache/keys/${hex("key")}.json.tmp-${dead}-0badf00d: temporary file of a dead process`,
      `snapshots/active/1-${dead}: marker of a dead process`,
    ];
    for (const e of expected) assert.ok(lines.some((l) => l.endsWith(e)), `missing: ${e}\n${found.stdout}`);
    assert.equal(lines.length, expected.length + 1, found.stdout);
    assert.match(lines.at(-1) as string, /^system check: 9 problems \(9 can be repaired: --repair\); checked/);
    // (the dead build's shared-lock marker went when the check took the store's lock, which skips such markers)
    assert.deepEqual(await readdir(join(root, "locks", "gc.lock.readers")), []);

    const repaired = await tsbuild(["--root", root, "system", "check", "--repair"]);
    assert.equal(repaired.code, 1, "problems were found");
    assert.match(repaired.stdout, /: removed\n/);
    assert.match(repaired.stdout, /system check: 9 problems, 9 repaired;/);
    assert.deepEqual(await readdir(join(root, "tmp")), []);
    await assert.rejects(access(join(root, "snapshots", "1", "owner")), "the published snapshot's owner file went with the marker");

    const after = await tsbuild(["--root", root, "system", "check"]);
    assert.equal(after.code, 0, after.stdout);
    await tsbuildOk(["--root", root, "build", "-q", "-t", "app", ctx]); // the store still builds
  } finally {
    await rm(ctx, { recursive: true, force: true });
    await removeStore(root);
  }
});

test("system check is clean after tsbuild run, with and without --rm (no marker of the run left behind)", { timeout: 60_000 }, async () => {
  const root = await freshStore();
  try {
    await tsbuildOk(["--root", root, "run", "--name", "kept", "busybox:local", "true"]);
    await tsbuildOk(["--root", root, "run", "--rm", "busybox:local", "true"]);
    const check = await tsbuild(["--root", root, "system", "check"]);
    assert.equal(check.code, 0, check.stdout);
    // a container whose writable layer went: found, and its record removed by a repair
    await tsbuildOk(["--root", root, "run", "--name", "broken", "busybox:local", "true"]);
    const records = await readdir(join(root, "containers"));
    for (const id of records) {
      const rec = JSON.parse(await readFile(join(root, "containers", id, "config.json"), "utf8")) as { name: string; snapshotId: number };
      if (rec.name === "broken") await rm(join(root, "snapshots", String(rec.snapshotId)), { recursive: true });
    }
    const found = await tsbuild(["--root", root, "system", "check", "--repair"]);
    assert.equal(found.code, 1);
    assert.match(found.stdout, /^container broken \([0-9a-f]{12}\): its writable layer snapshots\/\d+ is missing: record removed$/m);
    await tsbuildOk(["--root", root, "rm", "kept"]);
    assert.equal((await tsbuild(["--root", root, "system", "check"])).code, 0);
  } finally {
    await removeStore(root);
  }
});

test("system check, image prune and cache prune wait for a build in progress, and say so", { timeout: 90_000 }, async () => {
  const root = await mkdtemp(join(tmpdir(), "tsbuild-check-wait-"));
  try {
    await tsbuildOk(["--root", root, "images"]);
    const { withSharedLock } = await import("../common/lock.js");
    for (const args of [["system", "check"], ["image", "prune", "-f"], ["cache", "prune", "-f"]]) {
      const command = args.filter((a) => !a.startsWith("-")).join(" ");
      let ran: Promise<RunResult> | undefined;
      // this process stands for a build holding the store, until the command says it waits for it
      await withSharedLock(join(root, "locks", "gc.lock"), async () => {
        const child = startTsbuild(["--root", root, ...args]);
        ran = collect(child);
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`${command} did not say it waits`)), 20_000);
          child.stderr?.on("data", (c: Buffer) => c.toString().includes("waiting") && (clearTimeout(timer), resolve()));
          child.on("exit", () => (clearTimeout(timer), reject(new Error(`${command} ended without waiting`))));
        });
      });
      const r = await (ran as Promise<RunResult>);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(r.stderr, `${command}: waiting for 1 build in progress to finish\n`);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
