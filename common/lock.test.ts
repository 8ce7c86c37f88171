import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { withExclusiveLock, withSharedLock } from "./lock.js";

const here = dirname(fileURLToPath(import.meta.url));

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "tsbuild-lock-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A promise and the function that resolves it. */
function gate(): { open: () => void; opened: Promise<void> } {
  let open = (): void => {};
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test("shared holders hold the lock together", () =>
  withDir(async (dir) => {
    const lock = join(dir, "gc.lock");
    const inside = [gate(), gate()];
    const release = gate();
    const holders = inside.map((g) => withSharedLock(lock, async () => {
      g.open();
      await release.opened;
    }));
    await Promise.all(inside.map((g) => g.opened)); // both entered before either left
    assert.equal((await readdir(`${lock}.readers`)).length, 2);
    release.open();
    await Promise.all(holders);
    assert.deepEqual(await readdir(`${lock}.readers`), []);
  }));

test("the exclusive holder waits until every shared holder has left", () =>
  withDir(async (dir) => {
    const lock = join(dir, "gc.lock");
    const order: string[] = [];
    const entered = gate();
    const release = gate();
    const shared = withSharedLock(lock, async () => {
      entered.open();
      await release.opened;
      order.push("shared done");
    });
    await entered.opened;
    const exclusive = withExclusiveLock(lock, async () => void order.push("exclusive"));
    await delay(150);
    assert.deepEqual(order, []);
    release.open();
    await Promise.all([shared, exclusive]);
    assert.deepEqual(order, ["shared done", "exclusive"]);
  }));

test("a shared taker waits while the exclusive lock is held", () =>
  withDir(async (dir) => {
    const lock = join(dir, "gc.lock");
    const order: string[] = [];
    const entered = gate();
    const release = gate();
    const exclusive = withExclusiveLock(lock, async () => {
      entered.open();
      await release.opened;
      order.push("exclusive done");
    });
    await entered.opened;
    const shared = withSharedLock(lock, async () => void order.push("shared"));
    await delay(150);
    assert.deepEqual(order, []);
    release.open();
    await Promise.all([shared, exclusive]);
    assert.deepEqual(order, ["exclusive done", "shared"]);
  }));

test("markers and locks left by dead processes are ignored", () =>
  withDir(async (dir) => {
    const lock = join(dir, "gc.lock");
    const child = spawn(process.execPath, ["-e", "0"]);
    const deadPid = await new Promise<number>((r) => child.on("exit", () => r(child.pid ?? 0)));
    await mkdir(`${lock}.readers`, { recursive: true });
    await writeFile(join(`${lock}.readers`, `${deadPid}-1`), String(deadPid));
    assert.equal(await withExclusiveLock(lock, async () => "collected"), "collected");
    assert.deepEqual(await readdir(`${lock}.readers`), []);
    await writeFile(lock, String(deadPid));
    assert.equal(await withSharedLock(lock, async () => "built"), "built");
  }));

test("a lock file, takeover guard or marker left empty by a taker killed before it wrote its token is not waited for", () =>
  withDir(async (dir) => {
    const lock = join(dir, "gc.lock");
    const child = spawn(process.execPath, ["-e", "0"]);
    const deadPid = await new Promise<number>((r) => child.on("exit", () => r(child.pid ?? 0)));
    const old = new Date(Date.now() - 10_000);
    // an empty marker named by a dead owner: the exclusive taker goes on
    await mkdir(`${lock}.readers`, { recursive: true });
    await writeFile(join(`${lock}.readers`, `${deadPid}-1`), "");
    assert.equal(await within(5000, "exclusive beside an empty dead marker", withExclusiveLock(lock, async () => "collected")), "collected");
    // an empty lock file (and an empty takeover guard) made a while ago: taken over
    await writeFile(lock, "");
    await writeFile(`${lock}.takeover`, "");
    await utimes(lock, old, old);
    await utimes(`${lock}.takeover`, old, old);
    assert.equal(await within(5000, "an old empty lock", withExclusiveLock(lock, async () => "taken")), "taken");
    assert.equal(await within(5000, "shared after it", withSharedLock(lock, async () => "built")), "built");
  }));

/** Runs fn beside a live process (`sleep`), whose pid stands for a dead owner's reused pid. */
async function withLiveProcess(fn: (pid: number) => Promise<void>): Promise<void> {
  const child = spawn("sleep", ["30"], { stdio: "ignore" });
  const exited = new Promise<void>((r) => child.on("exit", () => r()));
  try {
    assert.ok(child.pid !== undefined);
    await fn(child.pid);
  } finally {
    child.kill("SIGKILL");
    await exited;
  }
}

/** fn's result, or a failure after ms (a lock that waits for ever). */
function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: still waiting after ${ms} ms`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

test("a dead owner's marker and lock are recognised when its pid runs another process (pid reuse)", () =>
  withDir((dir) =>
    withLiveProcess(async (pid) => {
      const lock = join(dir, "gc.lock");
      const readers = `${lock}.readers`;
      await mkdir(readers, { recursive: true });
      // named by pid and start time: the live process with this pid started at another time
      await writeFile(join(readers, `${pid}.1-1`), `${pid}.1`);
      // an older tsbuild's marker (pid only), written before that process started
      await writeFile(join(readers, `${pid}-1`), String(pid));
      const old = new Date(Date.now() - 3_600_000);
      await utimes(join(readers, `${pid}-1`), old, old);
      assert.equal(await within(3000, "prune", withExclusiveLock(lock, async () => "collected")), "collected");
      assert.deepEqual(await readdir(readers), []);
      await writeFile(lock, `${pid}.1`);
      assert.equal(await within(3000, "build", withSharedLock(lock, async () => "built")), "built");
    })));

test("a marker of a live process (pid and start time) is waited for", () =>
  withDir(async (dir) => {
    const lock = join(dir, "gc.lock");
    const entered = gate();
    const release = gate();
    const shared = withSharedLock(lock, async () => {
      entered.open();
      await release.opened;
    });
    await entered.opened;
    const [marker] = await readdir(`${lock}.readers`);
    assert.match(marker ?? "", new RegExp(`^${process.pid}\\.\\d+-\\d+$`));
    let done = false;
    const exclusive = withExclusiveLock(lock, async () => void (done = true));
    await delay(100);
    assert.equal(done, false);
    release.open();
    await Promise.all([shared, exclusive]);
  }));

test("processes racing to take over a dead owner's lock: one holds it at a time", { timeout: 30_000 }, () =>
  withDir(async (dir) => {
    const child = spawn(process.execPath, ["-e", "0"]);
    const deadPid = await new Promise<number>((r) => child.on("exit", () => r(child.pid ?? 0)));
    const rounds = 8;
    for (let i = 0; i < rounds; i++) await writeFile(join(dir, `lock-${i}`), `${deadPid}.1`);
    const startAt = Date.now() + 2500; // after every taker has started
    const takers = Array.from({ length: 6 }, () => {
      const p = spawn(process.execPath, ["--import", "tsx", join(here, "lock.fixture.ts"), dir, String(startAt), "250", String(rounds)], { stdio: ["ignore", "ignore", "inherit"] });
      return new Promise<number | null>((r) => p.on("exit", (code) => r(code)));
    });
    assert.deepEqual(await Promise.all(takers), [0, 0, 0, 0, 0, 0]);
    for (let i = 0; i < rounds; i++) {
      const log = (await readFile(join(dir, `lock-${i}.log`), "utf8")).trim().split("\n");
      assert.deepEqual(log, Array.from({ length: 6 }, () => ["in", "out"]).flat(), `lock ${i}: two held it at once`);
    }
  }));
