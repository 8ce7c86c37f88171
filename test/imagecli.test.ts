// The image command spellings scripts use: save to standard output and load from standard input,
// push and pull of every tag (-a), image prune --filter until|label.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pruneFilter, untilTime } from "../cli/commands/prune.js";
import type { ImageRecord } from "../image/store.js";
import { TSBUILD, collect, freshStore, removeStore, tsbuild, tsbuildOk } from "./helpers.js";
import { startRegistry, type TestRegistry } from "./registryserver.js";

let root: string;
let ctx: string;
let reg: TestRegistry;

before(async () => {
  root = await freshStore();
  ctx = await mkdtemp(join(tmpdir(), "tsbuild-imagecli-"));
  reg = await startRegistry();
});
after(async () => {
  await reg.stop();
  await removeStore(root);
  await rm(ctx, { recursive: true, force: true });
});

const ts = async (store: string, ...args: string[]): Promise<string> => (await tsbuildOk(["--root", store, ...args])).stdout;

test("save writes to standard output (never a terminal's); load reads standard input", async () => {
  await writeFile(join(ctx, "Dockerfile"), "FROM busybox:local\nRUN echo saved > /s\n");
  await ts(root, "build", "-q", "-t", "saved:1", ctx);
  const saved = spawnSync(process.execPath, [TSBUILD, "--root", root, "save", "saved:1"], { maxBuffer: 64 << 20 });
  assert.equal(saved.status, 0, saved.stderr.toString());
  const dash = spawnSync(process.execPath, [TSBUILD, "--root", root, "save", "-o", "-", "saved:1"], { maxBuffer: 64 << 20 });
  assert.ok(dash.stdout.equals(saved.stdout), "-o - writes the same archive");
  const other = await mkdtemp(join(tmpdir(), "tsbuild-imagecli-other-"));
  try {
    const child = spawn(process.execPath, [TSBUILD, "--root", other, "load"], { stdio: ["pipe", "pipe", "pipe"] });
    child.stdin.end(saved.stdout);
    const loaded = await collect(child);
    assert.equal(loaded.code, 0, loaded.stderr);
    assert.equal(loaded.stdout, "Loaded image: saved:1\n");
    assert.equal(await ts(other, "run", "--rm", "saved:1", "cat", "/s"), "saved\n");
    const empty = spawn(process.execPath, [TSBUILD, "--root", other, "load"], { stdio: ["pipe", "pipe", "pipe"] });
    empty.stdin.end();
    const r = await collect(empty);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /standard input, but it is empty/);
  } finally {
    await removeStore(other);
  }
});

test("push -a pushes every tag of the repository; pull -a pulls every tag the registry lists", async () => {
  for (const t of ["1", "2", "latest"]) await ts(root, "tag", "busybox:local", `${reg.host}/all/bb:${t}`);
  const pushed = await ts(root, "push", "-a", `${reg.host}/all/bb`);
  for (const t of ["1", "2", "latest"]) assert.match(pushed, new RegExp(`^${t}: digest: sha256:[0-9a-f]{64} size: \\d+$`, "m"));
  const refused = await tsbuild(["--root", root, "push", "-a", `${reg.host}/all/bb:1`]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /tag can't be used with --all-tags/);
  const other = await mkdtemp(join(tmpdir(), "tsbuild-imagecli-pull-"));
  try {
    const pulled = await ts(other, "pull", "-a", `${reg.host}/all/bb`);
    assert.match(pulled, /^1: Pulling from all\/bb$/m);
    assert.match(pulled, /^latest: Pulling from all\/bb$/m);
    assert.equal(pulled.trim().split("\n").at(-1), `${reg.host}/all/bb`);
    assert.equal(await ts(other, "images", "--format", "{{.Tag}}"), "1\n2\nlatest\n");
  } finally {
    await removeStore(other);
  }
});

test("image prune --filter until and label choose among the images it would remove", async () => {
  const made = (created: string, labels: Record<string, string>): ImageRecord => ({ config: { created, config: { Labels: labels } } }) as unknown as ImageRecord;
  const now = Date.parse("2026-12-07T12:00:00Z");
  assert.equal(untilTime("24h", now), now - 86_400_000);
  assert.equal(untilTime("1h30m", now), now - 5_400_000);
  assert.equal(untilTime("1700000000", now), 1_700_000_000_000);
  assert.equal(untilTime("2026-12-01", now), Date.parse("2026-12-01"));
  assert.throws(() => untilTime("yesterday", now), /invalid filter 'until=yesterday'/);
  const old = made("2026-12-01T00:00:00Z", { keep: "yes" });
  const recent = made("2026-12-07T11:59:00Z", {});
  assert.deepEqual([old, recent].filter(pruneFilter(["until=1h"], now)), [old]);
  assert.deepEqual([old, recent].filter(pruneFilter(["label!=keep"], now)), [recent]);
  assert.deepEqual([old, recent].filter(pruneFilter(["label=keep=yes", "until=24h"], now)), [old]);
  assert.throws(() => pruneFilter(["dangling=true"]), /invalid filter 'dangling=true'/);

  await writeFile(join(ctx, "Dockerfile"), "FROM busybox:local\nLABEL prune=me\nRUN echo 1 > /p\n");
  await ts(root, "build", "-q", "-t", "prune-me:1", ctx);
  await writeFile(join(ctx, "Dockerfile"), "FROM busybox:local\nRUN echo 2 > /p\n");
  await ts(root, "build", "-q", "-t", "keep-me:1", ctx);
  const out = await ts(root, "image", "prune", "-a", "-f", "--filter", "label=prune=me");
  assert.match(out, /untagged: prune-me:1/);
  assert.doesNotMatch(out, /keep-me/);
  assert.match(await ts(root, "images", "--format", "{{.Repository}}"), /keep-me/);
  assert.equal(await ts(root, "image", "prune", "-a", "-f", "--filter", "until=1000h"), "Total reclaimed space: 0B\n");
});
