// A COPY rebuilt after small changes is stacked on the snapshot of its previous build (only the changes
// are written; runtime/snapshotter.ts, builder/copy/reuse.ts). Whatever the change, its layer must be
// the one a full copy gives: each round is built twice, stacked in one store and with --no-cache (a
// full copy) in another, and the COPY layers are compared entry by entry, content included. (Stacking
// needs 1,000 unchanged files: reuse.ts MIN_STACKED_FILES says what a later RUN can tell.)
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { chmod, chown, mkdir, mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { freshStore, removeStore, tsbuild } from "./helpers.js";
import { walkTar } from "./tar.js";

const FOLDERS = ["a", "b", "c", "d"];

async function makeContext(dir: string): Promise<void> {
  for (const f of FOLDERS) {
    await mkdir(join(dir, f));
    for (let i = 0; i < 260; i++) await writeFile(join(dir, f, `f${i}`), `${f}/${i}\n`.repeat((i % 20) + 1));
  }
  await writeFile(join(dir, "top.txt"), "top\n");
  await writeFile(join(dir, "Dockerfile"), "FROM busybox:local\nCOPY . /app\n");
}

async function build(root: string, ctx: string, noCache = false): Promise<string> {
  const r = await tsbuild(["--root", root, "build", "-q", ...(noCache ? ["--no-cache"] : []), "-t", "stacked:1", ctx]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

function blob(root: string, digest: string): string {
  return join(root, "blobs", "sha256", digest.replace(/^sha256:/, ""));
}

/** The COPY layer's diffID and its chain ID (the image's second layer). */
function copyLayer(root: string, imageId: string): { diffId: string; chainId: string } {
  const config = JSON.parse(readFileSync(blob(root, imageId), "utf8")) as { rootfs: { diff_ids: string[] } };
  const [base, diffId] = config.rootfs.diff_ids as [string, string];
  return { diffId, chainId: `sha256:${createHash("sha256").update(`${base} ${diffId}`).digest("hex")}` };
}

/** Every entry of a layer: type, path, mode, owner, size, mtime (s) and content digest; `app/` is dated by the build. */
function layerSummary(path: string): string[] {
  const out: string[] = [];
  walkTar(path, (e, read) => {
    const hash = createHash("sha256");
    read((b) => hash.update(b));
    const mtime = e.name.replace(/\/$/, "") === "app" ? "(build time)" : String(e.mtime);
    out.push(`${e.type} ${e.name} ${e.mode.toString(8)} ${e.uid}:${e.gid} ${e.size} ${mtime} ${e.linkname} ${hash.digest("hex")}`);
  });
  return out;
}

/** The snapshot folder ids of a chain, and how many of them are its own (stacked: more than one). */
function snapshotOf(root: string, chainId: string): { lowers: number[]; ownDirs: number } {
  const dir = join(root, "snapshots");
  for (const name of readdirSync(dir)) {
    if (!/^\d+$/.test(name)) continue;
    let meta: { chainId: string; lowers: number[]; ownDirs?: number };
    try {
      meta = JSON.parse(readFileSync(join(dir, name, "meta.json"), "utf8")) as typeof meta;
    } catch {
      continue; // an active snapshot has no meta
    }
    if (meta.chainId === chainId) return { lowers: meta.lowers, ownDirs: meta.ownDirs ?? 1 };
  }
  throw new Error(`no snapshot ${chainId}`);
}

describe("a COPY stacked on its previous build", () => {
  it("gives a full copy's layer through edits, mode changes, touches, additions and a rebase; deletions copy anew", { timeout: 180_000 }, async () => {
    const stackedRoot = await freshStore();
    const fullRoot = await freshStore();
    const ctx = await mkdtemp(join(tmpdir(), "tsbuild-test-stacked-"));
    try {
      await makeContext(ctx);
      // older than the first build by more than the settling margin: unchanged files are kept unlooked at
      await new Promise((r) => setTimeout(r, 1100));
      const round = async (label: string, ownDirs: number): Promise<{ lowers: number[] }> => {
        const stacked = copyLayer(stackedRoot, await build(stackedRoot, ctx));
        const full = copyLayer(fullRoot, await build(fullRoot, ctx, true));
        assert.deepEqual(layerSummary(blob(stackedRoot, stacked.diffId)), layerSummary(blob(fullRoot, full.diffId)), label);
        const snap = snapshotOf(stackedRoot, stacked.chainId);
        assert.equal(snap.ownDirs, ownDirs, `${label}: own dirs of the COPY's snapshot`);
        return snap;
      };
      await round("first build", 1);

      await writeFile(join(ctx, "a", "f3"), "edited\n");
      await round("one file edited", 2);

      await chmod(join(ctx, "b", "f5"), 0o755);
      await utimes(join(ctx, "c", "f7"), new Date("2020-01-02T03:04:05Z"), new Date("2020-01-02T03:04:05Z")); // mtime only
      await mkdir(join(ctx, "e"));
      await writeFile(join(ctx, "e", "new.txt"), "new\n");
      await round("mode change, touch, new folder", 3);

      await chown(join(ctx, "d", "f2"), 1000, 1000); // a context file is copied as 0:0 all the same
      await writeFile(join(ctx, "d", "f1"), "edited too\n");
      await round("owner change and an edit", 4);

      await writeFile(join(ctx, "a", "f4"), "edited again\n");
      const rebased = await round("rebased on the full copy", 2);
      assert.equal(rebased.lowers.length, 3, "its upper, the full copy's dir, the base image's, nothing between");

      await rm(join(ctx, "b", "f6"));
      await round("a file deleted: copied in full", 1);

      await writeFile(join(ctx, "a", "f5"), "stacked again\n");
      const again = await round("stacked again", 2);

      // Pruning every cache entry keeps what the image mounts: its snapshot and the full copy under it.
      const pruned = await tsbuild(["--root", stackedRoot, "cache", "prune", "--all", "-f"]);
      assert.equal(pruned.code, 0, pruned.stderr);
      for (const id of again.lowers) assert.ok(existsSync(join(stackedRoot, "snapshots", String(id), "fs")), `snapshot folder ${id} kept`);

      await rm(join(ctx, "c", "f8"));
      await mkdir(join(ctx, "c", "f8"));
      await writeFile(join(ctx, "c", "f8", "inner"), "inner\n");
      await round("a file became a folder: copied in full", 1);
    } finally {
      await rm(ctx, { recursive: true, force: true });
      await removeStore(stackedRoot);
      await removeStore(fullRoot);
    }
  });
});
