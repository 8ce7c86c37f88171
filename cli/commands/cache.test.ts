// `tsbuild cache ls|du|prune` through the real CLI (bin/tsbuild, built by `make build`) on a temp store.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { access, mkdtemp, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { storePaths } from "../../common/storepaths.js";
import { CacheIndex } from "../../cache/index.js";
import { chainIds } from "../../image/config.js";
import { ContentStore } from "../../image/store.js";
import { Snapshotter } from "../../runtime/snapshotter.js";
import { parseDuration, parseSize, pruneStore } from "./cache.js";

const run = promisify(execFile);
const REPO = resolve(import.meta.dirname, "../..");
const TSBUILD = join(REPO, "bin", "tsbuild");

describe("size and duration flags", () => {
  it("parses sizes as docker does (binary units, optional b)", () => {
    assert.equal(parseSize("1048576"), 1048576);
    assert.equal(parseSize("512MB"), 512 * 1024 ** 2);
    assert.equal(parseSize("10g"), 10 * 1024 ** 3);
    assert.equal(parseSize("1.5k"), 1536);
    assert.equal(parseSize("0"), 0);
    assert.throws(() => parseSize("12x"), /invalid size '12x' for --keep-storage/);
    assert.throws(() => parseSize(""), /invalid size/);
  });
  it("parses Go durations (and days)", () => {
    assert.equal(parseDuration("24h"), 86_400_000);
    assert.equal(parseDuration("1h30m"), 5_400_000);
    assert.equal(parseDuration("90s"), 90_000);
    assert.equal(parseDuration("7d"), 7 * 86_400_000);
    assert.equal(parseDuration("0"), 0);
    assert.throws(() => parseDuration("1x"), /invalid duration '1x' for --keep-duration/);
    assert.throws(() => parseDuration("h"), /invalid duration/);
    assert.throws(() => parseDuration("5m garbage"), /invalid duration/);
  });
});

describe("tsbuild cache (real builds)", () => {
  let dir: string;
  let root: string;
  let ctx: string;
  const tsbuild = async (...args: string[]): Promise<string> => (await run(TSBUILD, ["--root", root, ...args])).stdout;
  const build = (...args: string[]): Promise<string> => tsbuild("build", "--progress", "plain", ...args, ctx);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tsbuild-cache-test-"));
    root = join(dir, "store");
    ctx = join(dir, "ctx");
    await mkdir(ctx);
    await run(join(REPO, "testdata/busybox/make-rootfs.sh"), [join(dir, "bb.tar")]);
    await tsbuild("import", join(dir, "bb.tar"), "busybox:local", "--change", 'CMD ["sh"]');
    await writeFile(
      join(ctx, "Dockerfile"),
      'FROM busybox:local\nCOPY a /a\nRUN cat /a /a > /b\nARG FAIL\nRUN test -z "$FAIL"\n',
    );
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Entries, snapshots and blobs of what no image uses: the second build's, which fails at its last step. */
  async function twoBuilds(): Promise<void> {
    await writeFile(join(ctx, "a"), "one\n");
    await build("-t", "app:1");
    await writeFile(join(ctx, "a"), "two\n");
    await assert.rejects(build("--build-arg", "FAIL=1"), /exit code 1/);
  }

  async function imageIsWhole(ref: string): Promise<void> {
    const paths = storePaths(root);
    const store = await ContentStore.open(paths);
    const rec = await store.resolveImage(ref);
    const snaps = new Snapshotter(paths);
    for (const c of chainIds(rec.config.rootfs.diff_ids)) assert.ok(await snaps.has(c), `snapshot ${c} of ${ref} kept`);
    for (const d of await store.referencedBlobs()) assert.ok(await store.has(d), `blob ${d} kept`);
  }

  it("lists entries with their instruction, sizes them, and prunes only what no image needs", async () => {
    await twoBuilds();
    const index = new CacheIndex(storePaths(root).cache);
    const before = await index.list();
    assert.equal(before.length, 5); // COPY, RUN, RUN (app:1) + COPY, RUN (failed build)

    const ls = await tsbuild("cache", "ls");
    assert.match(ls.split("\n")[0] ?? "", /^KEY\s+SIZE\s+LAST USED\s+CREATED\s+INSTRUCTION$/);
    assert.match(ls, /COPY a \/a/);
    assert.match(ls, /RUN cat \/a \/a > \/b/);
    assert.equal(ls.trim().split("\n").length, 6);
    const du = await tsbuild("cache", "du");
    assert.match(du, /Total: \S+ in 5 entries/);
    assert.doesNotMatch(du.split("\n")[1] ?? "", /\s0B$/); // something is reclaimable

    const app = await (await ContentStore.open(storePaths(root))).resolveImage("app:1");
    const appChains = new Set(chainIds(app.config.rootfs.diff_ids));
    const unprotected = before.filter((e) => !appChains.has(e.chainId));
    assert.equal(unprotected.length, 2);

    const out = await tsbuild("cache", "prune", "-f");
    assert.match(out, /^Deleted build cache objects:\n/);
    const total = /Total: (\S+) reclaimed\n$/.exec(out);
    assert.ok(total, out);
    assert.notEqual(total[1], "0B");
    const left = await index.list();
    assert.equal(left.length, 3);
    assert.ok(left.every((e) => appChains.has(e.chainId)));
    const paths = storePaths(root);
    const snaps = new Snapshotter(paths);
    const store = await ContentStore.open(paths);
    for (const e of unprotected) {
      assert.equal(await snaps.has(e.chainId), false, "orphan snapshot removed");
      assert.equal(await store.has(e.diffId as `sha256:${string}`), false, "orphan layer blob removed");
    }
    await imageIsWhole("app:1");

    // A second prune has nothing left to do; a rebuild of the pruned state simply misses.
    assert.equal(await tsbuild("cache", "prune", "-f"), "Total: 0B reclaimed\n");
    const first = await run(TSBUILD, ["--root", root, "build", "--progress", "plain", "-t", "app:2", ctx]);
    assert.match(first.stderr, /cache: 0\/3 steps cached/);
    const second = await run(TSBUILD, ["--root", root, "build", "--progress", "plain", "-t", "app:2", ctx]);
    assert.match(second.stderr, /cache: 3\/3 steps cached/);
  });

  it("--all drops every entry but keeps every image whole; rebuilds still work", async () => {
    await tsbuild("cache", "prune", "--all", "-f");
    assert.deepEqual(await new CacheIndex(storePaths(root).cache).list(), []);
    assert.match(await tsbuild("cache", "ls"), /^KEY\s+SIZE\s+LAST USED\s+CREATED\s+INSTRUCTION\n$/);
    await imageIsWhole("app:1");
    await imageIsWhole("app:2");
    const { stderr } = await run(TSBUILD, ["--root", root, "build", "--progress", "plain", "-t", "app:2", ctx]);
    assert.match(stderr, /cache: 0\/3 steps cached/);
    await access(join(root, "index.json"));
  });

  it("keeps recently used entries with --keep-duration and prunes least recently used first with keep-storage", async () => {
    await writeFile(join(ctx, "a"), "three\n");
    await assert.rejects(build("--build-arg", "FAIL=1"), /exit code 1/); // COPY + RUN entries no image uses
    await writeFile(join(ctx, "a"), "four\n");
    await assert.rejects(build("--build-arg", "FAIL=1"), /exit code 1/);
    const index = new CacheIndex(storePaths(root).cache);
    const all = await index.list();
    const store = await ContentStore.open(storePaths(root));
    const imageChains = new Set((await store.listImages()).flatMap((r) => chainIds(r.config.rootfs.diff_ids)));
    const free = all.filter((e) => !imageChains.has(e.chainId));
    assert.equal(free.length, 4);
    // The "three" build's entries were used before the "four" build's: a cutoff between them.
    const sorted = free.sort((x, y) => x.lastUsed - y.lastUsed);
    const oldest = sorted.slice(0, 2);
    const threeLast = Math.max(...oldest.map((e) => e.lastUsed));
    const fourFirst = Math.min(...sorted.slice(2).map((e) => e.lastUsed));
    assert.ok(fourFirst > threeLast);
    const hour = 3_600_000;
    const now = fourFirst + hour;
    assert.deepEqual((await pruneStore(root, { keepDurationMs: 3 * hour, now })).removedEntries, []);
    const byDuration = await pruneStore(root, { keepDurationMs: hour + (fourFirst - threeLast) / 2, now });
    assert.deepEqual(byDuration.removedEntries.map((e) => e.key).sort(), oldest.map((e) => e.key).sort());
    assert.equal(byDuration.removedSnapshots.length, 2);
    assert.equal(byDuration.removedBlobs.length, 2);
    assert.ok(byDuration.reclaimedBytes > 0);

    // Least recently used first: the COPY goes, the RUN (used later) fits in the storage kept.
    const [copy, runStep] = sorted.slice(2);
    assert.ok(copy && runStep && copy.record.instruction === "COPY" && runStep.record.instruction === "RUN");
    const sizes = new Map((await index.list()).map((e) => [e.chainId, e.layerSize ?? 0]));
    const stored = [...sizes.values()].reduce((n, v) => n + v, 0); // protected entries count too
    const bySize = await pruneStore(root, { keepStorage: stored - (copy.layerSize ?? 0) });
    assert.deepEqual(bySize.removedEntries.map((e) => e.key), [copy.key]);
    assert.deepEqual(bySize.removedSnapshots, []); // the RUN's snapshot still stands on it
    assert.deepEqual(bySize.removedBlobs, [copy.diffId]);
    await imageIsWhole("app:1");
    await imageIsWhole("app:2");
  });
});
