import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, readdir, writeFile, access, utimes } from "node:fs/promises";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import type { StorePaths } from "../common/storepaths.js";
import { Snapshotter } from "./snapshotter.js";
import { mountOverlay, mountsUnder } from "./mounts.js";
import { RUNC } from "./container.js";
import { sweepStale } from "./sweep.js";
import { tempStore, busyboxSnapshot } from "./testsupport.js";

const here = dirname(fileURLToPath(import.meta.url));

/** A pid that surely belonged to a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn("true", { stdio: "ignore" });
  await new Promise<void>((resolve) => child.on("exit", () => resolve()));
  assert.ok(child.pid !== undefined);
  return child.pid;
}

async function runcList(paths: StorePaths): Promise<string[]> {
  const r = await execa(RUNC, ["--root", paths.runcState, "list", "-q"], { reject: false });
  return r.stdout.split("\n").filter((l) => l !== "");
}

async function overlayAt(paths: StorePaths, name: string): Promise<string> {
  const base = join(paths.tmp, name);
  for (const d of ["lower", "upper", "work", "mnt"]) await mkdir(join(base, d), { recursive: true });
  await writeFile(join(base, "lower", "f"), "x");
  await mountOverlay({ lowers: ["lower"], upper: "upper", work: "work", target: join(base, "mnt"), cwd: base });
  return join(base, "mnt");
}

test("sweep unmounts and removes a dead pid's leftovers but not a live one's", async () => {
  const store = await tempStore();
  try {
    const { paths } = store;
    const dead = await deadPid();
    const deadMount = await overlayAt(paths, `mnt-${dead}-0badf00d`);
    const liveMount = await overlayAt(paths, `mnt-${process.pid}-0badf00d`);
    const snap = new Snapshotter(paths);
    const liveActive = await snap.prepare(null);
    const deadActive = await snap.prepare(null);
    await writeFile(join(deadActive.dir, "owner"), String(dead));
    await mkdir(join(paths.tmp, `bundle-${dead}-12345678`));

    const report = await sweepStale(paths);

    assert.deepEqual(report.unmounted, [deadMount]);
    assert.deepEqual(await mountsUnder(paths.root), [liveMount]);
    assert.deepEqual((await readdir(paths.tmp)).sort(), [`mnt-${process.pid}-0badf00d`]); // an older tsbuild's name: pid only
    await assert.rejects(access(deadActive.dir));
    await access(liveActive.dir);
  } finally {
    await store.cleanup();
  }
});

test("a build killed mid-RUN leaves no mount, container or scratch once the sweep has run", async () => {
  const store = await tempStore();
  try {
    const { paths } = store;
    const snap = new Snapshotter(paths);
    const base = await busyboxSnapshot(snap);
    const child = spawn(process.execPath, ["--import", "tsx", join(here, "sweep.fixture.ts"), paths.root, base], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (c: Buffer) => c.toString().includes("started") && resolve());
      child.on("exit", (code) => reject(new Error(`fixture exited early (${code})`)));
    });
    assert.equal((await runcList(paths)).length, 1, "container running");
    assert.equal((await mountsUnder(paths.root)).length, 1, "rootfs mounted");
    child.kill("SIGKILL");
    await exited;
    assert.equal((await mountsUnder(paths.root)).length, 1, "the kill leaves the mount behind");

    const report = await sweepStale(paths);

    assert.equal(report.containers.length, 1);
    assert.deepEqual(await runcList(paths), []);
    assert.deepEqual(await mountsUnder(paths.root), []);
    assert.deepEqual(await readdir(paths.tmp), []);
    const snapshotDirs = (await readdir(paths.snapshots)).filter((n) => /^\d+$/.test(n));
    assert.equal(snapshotDirs.length, 1, "only the committed base is left");
    assert.ok(await snap.has(base));
  } finally {
    await store.cleanup();
  }
});

test("scratch names: the sweep reads the owner (pid and start time) from runtime's and image/'s names", async () => {
  const { ownerOfName, ownerToken } = await import("../common/owner.js");
  const { scratchName } = await import("./owner.js");
  const [pid, start] = ownerToken().split(".").map(Number);
  assert.deepEqual(ownerOfName(scratchName("bundle")), { pid, start });
  assert.deepEqual(ownerOfName("ingest-4242.77-0123456789ab"), { pid: 4242, start: 77 });
  assert.deepEqual(ownerOfName("index.json.tmp-4242.77-0123abcd"), { pid: 4242, start: 77 });
  assert.deepEqual(ownerOfName("id-1234.new-4242.77-0123abcd"), { pid: 4242, start: 77 }, "a cache mount folder being made");
  assert.deepEqual(ownerOfName("ingest-4242-0123456789ab"), { pid: 4242, start: undefined }, "an older tsbuild's name");
  assert.equal(ownerOfName("ingest-4242-0123456789"), undefined);
  assert.equal(ownerOfName("notes.txt"), undefined);
});

test("what a dead owner left is swept even when its pid runs another process (pid reuse)", async () => {
  const store = await tempStore();
  const other = spawn("sleep", ["30"], { stdio: "ignore" });
  const exited = new Promise<void>((r) => other.on("exit", () => r()));
  try {
    const { paths } = store;
    const pid = other.pid as number;
    const token = `${pid}.1`; // that pid, but a start time the live process does not have
    await mkdir(join(paths.tmp, `load-${token}-0123456789ab`, "blobs"), { recursive: true });
    await writeFile(join(paths.tmp, `write-${token}-0123456789ab`), "x");
    await mkdir(join(paths.tmp, `load-${pid}-0badf00d`)); // an older tsbuild's name, older than the process
    const old = new Date(Date.now() - 3_600_000);
    await utimes(join(paths.tmp, `load-${pid}-0badf00d`), old, old);
    const markers = join(paths.snapshots, "active");
    await mkdir(join(paths.snapshots, "5", "fs"), { recursive: true });
    await mkdir(markers, { recursive: true });
    await writeFile(join(paths.snapshots, "5", "owner"), token);
    await writeFile(join(markers, `5-${token}`), "");
    const readers = join(paths.locks, "gc.lock.readers");
    await mkdir(readers, { recursive: true });
    await writeFile(join(readers, `${token}-1`), token);
    await writeFile(join(paths.locks, `index.lock.stale-${token}-0123abcd`), "1.1"); // a taker killed mid-takeover
    await writeFile(join(paths.locks, "index.lock"), token); // held by a build killed during an index update
    await mkdir(join(paths.tmp, "load-Ab3xYz")); // an older tsbuild's load folder (no owner), an hour old
    await utimes(join(paths.tmp, "load-Ab3xYz"), old, old);
    await mkdir(join(paths.runcState, `tsb-${pid}-0badf00d`), { recursive: true }); // an older runc container id, as old
    await utimes(join(paths.runcState, `tsb-${pid}-0badf00d`), old, old);
    const mine = await new Snapshotter(paths).prepare(null); // this process's: kept

    const report = await sweepStale(paths);

    assert.deepEqual(await readdir(paths.tmp), []);
    await assert.rejects(access(join(paths.snapshots, "5")));
    assert.deepEqual((await readdir(markers)).map((m) => m.split("-")[0]), [String(mine.id)]);
    assert.deepEqual(await readdir(readers), []);
    assert.deepEqual(await readdir(paths.locks), ["gc.lock.readers"]);
    await access(mine.dir);
    assert.ok(report.removed.includes(join(paths.snapshots, "5")));
    assert.deepEqual(report.containers, [`tsb-${pid}-0badf00d`]);
  } finally {
    other.kill("SIGKILL");
    await exited;
    await store.cleanup();
  }
});

test("active snapshots are found through their markers; a store without markers is scanned in full once", async () => {
  const store = await tempStore();
  try {
    const { paths } = store;
    const dead = await deadPid();
    const markers = join(paths.snapshots, "active");
    // an older tsbuild's store: a dead build's active snapshot and no markers folder
    await mkdir(join(paths.snapshots, "7", "fs"), { recursive: true });
    await writeFile(join(paths.snapshots, "7", "owner"), String(dead));
    await sweepStale(paths);
    await assert.rejects(access(join(paths.snapshots, "7")), "found by the full scan");
    await access(markers);

    // with markers: a dead build's marker and folder go; a marker whose folder is gone goes too
    await mkdir(join(paths.snapshots, "8", "fs"), { recursive: true });
    await writeFile(join(paths.snapshots, "8", "owner"), String(dead));
    await writeFile(join(markers, `8-${dead}`), "");
    await writeFile(join(markers, `9-${dead}`), "");
    // not listed: left alone (found only by its marker)
    await mkdir(join(paths.snapshots, "10", "fs"), { recursive: true });
    await writeFile(join(paths.snapshots, "10", "owner"), String(dead));
    const report = await sweepStale(paths);
    assert.deepEqual(report.removed, [join(paths.snapshots, "8")]);
    assert.deepEqual(await readdir(markers), []);
    await access(join(paths.snapshots, "10"));
  } finally {
    await store.cleanup();
  }
});
