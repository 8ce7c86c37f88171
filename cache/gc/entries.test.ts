import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sha256 } from "../../common/digest.js";
import { CacheIndex, type CacheEntry } from "../index.js";
import { stepKey } from "../key.js";
import { pruneCache } from "./entries.js";

const DAY = 86_400_000;
const NOW = 1_800_000_000_000;

async function withIndex(fn: (index: CacheIndex) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "tsbuild-gc-"));
  try {
    await fn(new CacheIndex(dir));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** name → entry used `age` days ago, with a layer of `size` bytes in snapshot `chain`. */
async function add(index: CacheIndex, name: string, ageDays: number, size: number, chain = name): Promise<CacheEntry> {
  const record = { parentKey: sha256("base"), instruction: "RUN", text: `RUN ${name}`, definition: {}, buildArgs: {} };
  const at = NOW - ageDays * DAY;
  const e: CacheEntry = { key: stepKey(record), chainId: sha256(chain), layerSize: size, createdAt: at, lastUsed: at, durationMs: 1, record };
  await index.put(e.key, e);
  return e;
}

const texts = (entries: CacheEntry[]): string[] => entries.map((e) => e.record.text).sort();

test("keep-duration removes entries unused for longer", async () => {
  await withIndex(async (index) => {
    await add(index, "old", 10, 100);
    await add(index, "new", 1, 100);
    const r = await pruneCache(index, { keepDurationMs: 5 * DAY, now: NOW });
    assert.deepEqual(texts(r.removed), ["RUN old"]);
    assert.equal(r.freedBytes, 100);
    assert.deepEqual(texts(await index.list()), ["RUN new"]);
  });
});

test("keep-storage removes least recently used first until under the limit", async () => {
  await withIndex(async (index) => {
    await add(index, "a", 4, 100);
    await add(index, "b", 3, 100);
    await add(index, "c", 2, 100);
    await add(index, "d", 1, 100);
    const r = await pruneCache(index, { keepStorage: 250, now: NOW });
    assert.deepEqual(texts(r.removed), ["RUN a", "RUN b"]);
    assert.deepEqual(texts(await index.list()), ["RUN c", "RUN d"]);
  });
});

test("a touched entry counts as recently used", async () => {
  await withIndex(async (index) => {
    const a = await add(index, "a", 4, 100);
    await add(index, "b", 3, 100);
    await index.touch(a.key, new Date(NOW));
    const r = await pruneCache(index, { keepStorage: 100, now: NOW });
    assert.deepEqual(texts(r.removed), ["RUN b"]);
  });
});

test("protected chain ids are never removed, but their size counts", async () => {
  await withIndex(async (index) => {
    const a = await add(index, "a", 9, 300);
    await add(index, "b", 1, 100);
    const r = await pruneCache(index, { keepStorage: 200, keepDurationMs: DAY, protectedChainIds: new Set([a.chainId]), now: NOW });
    assert.deepEqual(texts(r.removed), ["RUN b"]);
    assert.deepEqual(texts(await index.list()), ["RUN a"]);
  });
});

test("a snapshot shared by entries is freed only with the last of them", async () => {
  await withIndex(async (index) => {
    await add(index, "x1", 5, 100, "shared");
    await add(index, "x2", 1, 100, "shared");
    const first = await pruneCache(index, { keepDurationMs: 2 * DAY, now: NOW });
    assert.deepEqual(texts(first.removed), ["RUN x1"]);
    assert.equal(first.freedBytes, 0);
    assert.deepEqual(first.unreferencedChainIds, []);
    const all = await pruneCache(index, { now: NOW });
    assert.equal(all.freedBytes, 100);
    assert.deepEqual(all.unreferencedChainIds, [sha256("shared")]);
  });
});

test("dry run reports without removing", async () => {
  await withIndex(async (index) => {
    await add(index, "a", 9, 10);
    const r = await pruneCache(index, { dryRun: true, now: NOW });
    assert.equal(r.removed.length, 1);
    assert.equal((await index.list()).length, 1);
  });
});
