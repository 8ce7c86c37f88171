import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm, writeFile, mkdir, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sha256, type Digest } from "../common/digest.js";
import { CacheIndex, type CacheEntry } from "./index.js";
import { stepKey, type StepRecord } from "./key.js";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "tsbuild-idx-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function record(text: string): StepRecord {
  return { parentKey: sha256("base"), instruction: "RUN", text, definition: { argv: ["sh", "-c", text] }, buildArgs: {} };
}

function entry(rec: StepRecord, at = Date.now()): CacheEntry {
  return { key: stepKey(rec), chainId: sha256(`chain ${rec.text}`), diffId: sha256(`diff ${rec.text}`), layerSize: 10, createdAt: at, lastUsed: at, durationMs: 5, record: rec };
}

test("put then get returns the entry; unknown keys are undefined", async () => {
  await withDir(async (dir) => {
    const index = new CacheIndex(dir);
    const e = entry(record("RUN a"), 1_700_000_000_000);
    assert.equal(await index.get(e.key), undefined);
    await index.put(e.key, e);
    assert.deepEqual(await index.get(e.key), e);
    assert.equal(await index.get(sha256("nothing")), undefined);
  });
});

test("put refuses an entry under another key", async () => {
  await withDir(async (dir) => {
    const e = entry(record("RUN a"));
    await assert.rejects(new CacheIndex(dir).put(sha256("x"), e), TypeError);
  });
});

test("touch moves lastUsed forward; touching a removed key is harmless", async () => {
  await withDir(async (dir) => {
    const index = new CacheIndex(dir);
    const e = entry(record("RUN a"), 1_600_000_000_000);
    await index.put(e.key, e);
    await index.touch(e.key, new Date(1_700_000_000_000));
    assert.equal((await index.get(e.key))?.lastUsed, 1_700_000_000_000);
    await index.remove(e.key);
    assert.equal(await index.get(e.key), undefined);
    await index.touch(e.key);
    assert.equal(await index.get(e.key), undefined);
    await index.remove(e.key);
  });
});

test("list returns whole entries only, skipping temporary and damaged files", async () => {
  await withDir(async (dir) => {
    const index = new CacheIndex(dir);
    const a = entry(record("RUN a"));
    const b = entry(record("RUN b"));
    await index.put(a.key, a);
    await index.put(b.key, b);
    await writeFile(join(dir, "keys", `${"0".repeat(64)}.json.tmp-1-abcd`), "{");
    await writeFile(join(dir, "keys", `${"1".repeat(64)}.json`), "{ half");
    const keys = (await index.list()).map((e) => e.key).sort();
    assert.deepEqual(keys, [a.key, b.key].sort());
  });
});

test("an empty index lists nothing", async () => {
  await withDir(async (dir) => {
    assert.deepEqual(await new CacheIndex(join(dir, "none")).list(), []);
  });
});

test("rememberStep / previousStep keep the last record of a step", async () => {
  await withDir(async (dir) => {
    const index = new CacheIndex(dir);
    const id = "sha256:dockerfile|stage 0|step 2";
    assert.equal(await index.previousStep(id), undefined);
    await index.rememberStep(id, record("RUN one"));
    await index.rememberStep(id, record("RUN two"));
    assert.deepEqual(await index.previousStep(id), record("RUN two"));
    assert.equal(await index.previousStep("another step"), undefined);
  });
});

// A child process hammering one index: puts and gets the same keys as its siblings.
const WORKER = `
import { CacheIndex } from ${JSON.stringify(fileURLToPath(new URL("./index.ts", import.meta.url)))};
import { sha256 } from ${JSON.stringify(fileURLToPath(new URL("../common/digest.ts", import.meta.url)))};
const [dir, who, rounds] = process.argv.slice(2);
const index = new CacheIndex(dir);
const key = (i) => sha256("k" + (i % 5));
for (let i = 0; i < Number(rounds); i++) {
  const rec = { parentKey: sha256("base"), instruction: "RUN", text: "RUN " + who + " " + i, definition: { pad: "x".repeat(20000) }, buildArgs: {} };
  const now = Date.now();
  await index.put(key(i), { key: key(i), chainId: sha256("c" + i), createdAt: now, lastUsed: now, durationMs: 1, record: rec });
  const got = await index.get(key(i + 1));
  // get() reads the head; the record is read when asked, which a sibling's remove may beat (builds pin
  // what they read, these workers do not): that one line, or a whole record, never a torn one
  let pad = 20000;
  try {
    pad = got?.record.definition.pad.length ?? 20000;
  } catch (e) {
    if (!/was removed while the build read it/.test(String(e))) throw e;
  }
  if (got !== undefined && (got.key !== key(i + 1) || pad !== 20000)) {
    console.error("torn entry"); process.exit(3);
  }
  await index.touch(key(i + 2));
  if (i % 7 === 0) await index.remove(key(i + 3));
}
`;

/** tsx is resolved from the repository, wherever the tests are started from. */
const repoRoot = fileURLToPath(new URL("..", import.meta.url));

function runWorker(script: string, args: string[]): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", script, ...args], { cwd: repoRoot, stdio: ["ignore", "ignore", "inherit"] });
    child.on("error", reject);
    child.on("exit", (code) => resolve(code));
  });
}

test("concurrent builds never see a torn entry, and a killed writer leaves the index readable", async () => {
  await withDir(async (dir) => {
    const script = join(dir, "worker.mts");
    await writeFile(script, WORKER);
    const indexDir = join(dir, "idx");
    await mkdir(indexDir);
    const codes = await Promise.all([1, 2, 3, 4].map((w) => runWorker(script, [indexDir, String(w), "150"])));
    assert.deepEqual(codes, [0, 0, 0, 0]);

    // A writer killed at a random instant.
    const child = spawn(process.execPath, ["--import", "tsx", script, indexDir, "9", "100000"], { cwd: repoRoot, stdio: "ignore" });
    await new Promise((r) => setTimeout(r, 1500));
    child.kill("SIGKILL");
    await new Promise((r) => child.on("exit", r));

    const index = new CacheIndex(indexDir);
    for (const e of await index.list()) {
      assert.match(e.key, /^sha256:/);
      assert.equal((e.record.definition as { pad: string }).pad.length, 20000);
    }
    const names = await readdir(join(indexDir, "keys"));
    assert.ok(names.some((n) => n.endsWith(".json")));
  });
});

test("sweepTemporaries removes only old temporary files", async () => {
  await withDir(async (dir) => {
    const index = new CacheIndex(dir);
    const e = entry(record("RUN a"));
    await index.put(e.key, e);
    const old = join(dir, "keys", `${"0".repeat(64)}.json.tmp-12-abcd0123`);
    const fresh = join(dir, "keys", `${"1".repeat(64)}.json.tmp-13-abcd0123`);
    const digestTmp = join(dir, "digests.txt.tmp-14-00ff");
    await writeFile(old, "{");
    await writeFile(fresh, "{");
    await writeFile(digestTmp, "{");
    await utimes(old, new Date(0), new Date(0));
    await utimes(digestTmp, new Date(0), new Date(0));
    assert.equal(await index.sweepTemporaries(60_000), 2);
    const names = await readdir(join(dir, "keys"));
    assert.ok(names.includes(`${"1".repeat(64)}.json.tmp-13-abcd0123`));
    assert.ok(!names.includes(`${"0".repeat(64)}.json.tmp-12-abcd0123`));
    assert.deepEqual(await index.get(e.key), e);
  });
});

test("keys must be digests (no path tricks)", async () => {
  await withDir(async (dir) => {
    await assert.rejects(new CacheIndex(dir).get("sha256:../../etc" as Digest), TypeError);
  });
});
