import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, readdir, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { digestPaths } from "./filedigest.js";
import { FileDigestCache } from "./digestcache.js";

/** tmpfs when there is one: creating 20,000 files on a busy disk takes long. */
const scratch = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(scratch, "tsbuild-dc-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Files changed within the last clock tick are not remembered (racy); let the clock move on. */
const pastRacyWindow = (): Promise<void> => new Promise((r) => setTimeout(r, 80));

test("an unchanged 20,000-file context is digested again without reading any file", async () => {
  await withDir(async (dir) => {
    const ctx = join(dir, "ctx");
    const cacheDir = join(dir, "cache");
    for (let d = 0; d < 100; d++) {
      await mkdir(join(ctx, `d${d}`), { recursive: true });
      for (let f = 0; f < 200; f++) writeFileSync(join(ctx, `d${d}`, `f${f}.txt`), `file ${d}/${f}\n`);
    }
    await pastRacyWindow();

    const cold = await FileDigestCache.load(cacheDir);
    const first = await digestPaths(ctx, ["."], undefined, cold);
    assert.equal(cold.contentReads, 20_000);
    assert.equal(first.files.length, 20_000 + 100 + 1);
    await cold.save();

    const warm = await FileDigestCache.load(cacheDir);
    assert.equal(warm.size, 20_000);
    const second = await digestPaths(ctx, ["."], undefined, warm);
    assert.equal(warm.contentReads, 0);
    assert.equal(second.digest, first.digest);

    // Same size, mtime put back: the ctime still tells, the file is read again (and only it).
    const victim = join(ctx, "d7", "f7.txt");
    const old = await stat(victim);
    await writeFile(victim, "FILE 7/7\n");
    await utimes(victim, old.atime, old.mtime);
    const third = await digestPaths(ctx, ["."], undefined, warm);
    assert.equal(warm.contentReads, 1);
    assert.notEqual(third.digest, first.digest);
  });
});

test("a file changed just before the read is not remembered (racy clean)", async () => {
  await withDir(async (dir) => {
    await writeFile(join(dir, "fresh"), "x");
    const wary = FileDigestCache.inMemory({ racyMarginMs: 60_000 });
    await wary.contentHash(join(dir, "fresh"));
    await wary.contentHash(join(dir, "fresh"));
    assert.equal(wary.contentReads, 2);
    assert.equal(wary.size, 0);
    const trusting = FileDigestCache.inMemory({ racyMarginMs: -60_000 });
    await trusting.contentHash(join(dir, "fresh"));
    await trusting.contentHash(join(dir, "fresh"));
    assert.equal(trusting.contentReads, 1);
    assert.equal(trusting.size, 1);
  });
});

test("a file that grows past the small-file buffer is hashed whole", async () => {
  await withDir(async (dir) => {
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    await writeFile(join(dir, "big"), big);
    const hex = await FileDigestCache.inMemory().contentHash(join(dir, "big"));
    assert.equal(hex, createHash("sha256").update(big).digest("hex"));
  });
});

test("the content hash is the sha256 of the bytes", async () => {
  await withDir(async (dir) => {
    await writeFile(join(dir, "f"), "hello\n");
    const hex = await FileDigestCache.inMemory().contentHash(join(dir, "f"));
    assert.equal(hex, "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
  });
});

test("concurrent savers merge, and the file stays whole", async () => {
  await withDir(async (dir) => {
    const cacheDir = join(dir, "cache");
    const files: string[] = [];
    for (let i = 0; i < 40; i++) {
      files.push(join(dir, `f${i}`));
      await writeFile(join(dir, `f${i}`), `content ${i}`);
    }
    await pastRacyWindow();
    const caches = await Promise.all(Array.from({ length: 4 }, () => FileDigestCache.load(cacheDir)));
    // Each cache learns a different quarter of the files, then all save at once.
    await Promise.all(
      caches.map(async (c, n) => {
        for (const f of files.filter((_, i) => i % 4 === n)) await c.contentHash(f);
      }),
    );
    await Promise.all(caches.map((c) => c.save()));
    const stored = (await readFile(join(cacheDir, "digests.txt"), "utf8")).trim().split("\n");
    assert.equal(stored.length, 41); // the header and one line per file
    const reloaded = await FileDigestCache.load(cacheDir);
    for (const f of files) await reloaded.contentHash(f);
    assert.equal(reloaded.contentReads, 0);
  });
});

test("a damaged cache file is ignored, not fatal", async () => {
  await withDir(async (dir) => {
    await writeFile(join(dir, "digests.txt"), "{not json");
    const c = await FileDigestCache.load(dir);
    assert.equal(c.size, 0);
    // A line torn by a kill during an append is skipped, the rest kept.
    await writeFile(join(dir, "digests.txt"), `tsbuild file digests v2\n1:2:3:4:5 ${"a".repeat(64)}\n1:2:3:4:6 ab\n\n1:2:3:4:7 ${"b".repeat(64)}\n`);
    assert.equal((await FileDigestCache.load(dir)).size, 2);
    await writeFile(join(dir, "digests.txt"), `something else\n1:2:3:4:5 ${"a".repeat(64)}\n`);
    assert.equal((await FileDigestCache.load(dir)).size, 0);
    await writeFile(join(dir, "digests.txt"), `tsbuild file digests v2\n1:2:3:4:5 ${"a".repeat(64)}\n`);
    assert.equal((await FileDigestCache.load(dir)).size, 1);
  });
});

test("the cache is bounded (least recently used entries go)", async () => {
  await withDir(async (dir) => {
    for (let i = 0; i < 5; i++) await writeFile(join(dir, `f${i}`), `${i}`);
    await pastRacyWindow();
    const c = await FileDigestCache.load(join(dir, "cache"), { maxEntries: 3 });
    for (let i = 0; i < 5; i++) await c.contentHash(join(dir, `f${i}`));
    await c.save();
    assert.equal(c.size, 3);
    const reloaded = await FileDigestCache.load(join(dir, "cache"), { maxEntries: 3 });
    assert.equal(reloaded.size, 3);
    // f2 was used last by a build that saved: it survives two newcomers, the two older ones go.
    await reloaded.contentHash(join(dir, "f2"));
    assert.equal(reloaded.contentReads, 0);
    for (let i = 5; i < 7; i++) await writeFile(join(dir, `f${i}`), `${i}`);
    await pastRacyWindow();
    for (let i = 5; i < 7; i++) await reloaded.contentHash(join(dir, `f${i}`));
    await reloaded.save();
    const last = await FileDigestCache.load(join(dir, "cache"), { maxEntries: 3 });
    await last.contentHash(join(dir, "f2"));
    await last.contentHash(join(dir, "f6"));
    assert.equal(last.contentReads, 0);
  });
});

test("a save appends the new entries; past the bound the file is rewritten, trimmed", async () => {
  await withDir(async (dir) => {
    const cacheDir = join(dir, "cache");
    const stored = join(cacheDir, "digests.txt");
    const bound = { maxEntries: 6 };
    for (let i = 0; i < 4; i++) await writeFile(join(dir, `f${i}`), `${i}`);
    await pastRacyWindow();
    const first = await FileDigestCache.load(cacheDir, bound);
    for (let i = 0; i < 4; i++) await first.contentHash(join(dir, `f${i}`));
    await first.save();
    const lineCount = async () => (await readFile(stored, "utf8")).split("\n").filter((l) => /^\S+ [0-9a-f]{64}$/.test(l)).length;
    assert.equal(await lineCount(), 4);
    // One file edited: its new entry is appended (the old one stays until trimmed).
    await writeFile(join(dir, "f1"), "edited");
    await pastRacyWindow();
    const second = await FileDigestCache.load(cacheDir, bound);
    assert.equal(await second.contentHash(join(dir, "f1")), createHash("sha256").update("edited").digest("hex"));
    await second.save();
    assert.equal(await lineCount(), 5);
    const third = await FileDigestCache.load(cacheDir, bound);
    for (let i = 0; i < 4; i++) await third.contentHash(join(dir, `f${i}`));
    assert.equal(third.contentReads, 0, "the appended entry is read back");
    // More edits: past the bound the next save rewrites the file, keeping the most recent entries.
    for (let round = 0; round < 3; round++) {
      await writeFile(join(dir, "f2"), `round ${round}`);
      await pastRacyWindow();
      const c = await FileDigestCache.load(cacheDir, bound);
      for (let i = 0; i < 4; i++) await c.contentHash(join(dir, `f${i}`));
      await c.save();
    }
    assert.equal(await lineCount(), 6);
    const last = await FileDigestCache.load(cacheDir, bound);
    for (let i = 0; i < 4; i++) await last.contentHash(join(dir, `f${i}`));
    assert.equal(last.contentReads, 0, "the entries in use survive the trim");
  });
});

test("each build context keeps its own file: loading one does not read another's; the oldest files beyond 32 go", async () => {
  await withDir(async (dir) => {
    const cacheDir = join(dir, "cache");
    const big = join(dir, "big");
    const small = join(dir, "small");
    for (const [ctx, n] of [[big, 300], [small, 3]] as const) {
      await mkdir(ctx, { recursive: true });
      for (let i = 0; i < n; i++) writeFileSync(join(ctx, `f${i}`), `${ctx} ${i}\n`);
    }
    await mkdir(cacheDir, { recursive: true });
    await writeFile(join(cacheDir, "digests.txt"), `tsbuild file digests v2\n1:2:3:4:5 ${"a".repeat(64)}\n`);
    await pastRacyWindow();
    for (const ctx of [big, small]) {
      const c = await FileDigestCache.load(cacheDir, { context: ctx });
      await digestPaths(ctx, ["."], undefined, c);
      await c.save();
    }
    assert.equal((await FileDigestCache.load(cacheDir, { context: big })).size, 300);
    const smallCache = await FileDigestCache.load(cacheDir, { context: small });
    assert.equal(smallCache.size, 3, "the small context's build reads its 3 entries, not the big one's 300");
    await digestPaths(small, ["."], undefined, smallCache);
    assert.equal(smallCache.contentReads, 0);
    assert.equal(existsSync(join(cacheDir, "digests.txt")), false, "the one shared file of before is removed");

    // 40 more contexts (as remote contexts unpacked to new folders): the folder keeps 32 files
    const remotes = Array.from({ length: 40 }, (_, i) => join(dir, `remote-${i}`));
    for (const [i, ctx] of remotes.entries()) {
      await mkdir(ctx);
      writeFileSync(join(ctx, "f"), `${i}\n`);
    }
    await pastRacyWindow();
    for (const ctx of remotes) {
      const c = await FileDigestCache.load(cacheDir, { context: ctx });
      await c.contentHash(join(ctx, "f"));
      await c.save();
    }
    const files = (await readdir(join(cacheDir, "digests"))).filter((n) => n.endsWith(".txt"));
    assert.equal(files.length, 32);
  });
});
