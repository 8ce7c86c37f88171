// COPY's fast path (builder/fastcopy.ts) may change nothing a later step or the image can observe. Each
// round is built in two stores, one with the fast path on (the default) and one with
// TSBUILD_FAST_COPY=0, and both must give the same COPY layer, byte for byte (the same diffID), and a
// later RUN must see the same tree: names, link counts (folders too), sizes, modes, owners and mtimes.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { collect, freshStore, removeStore, TSBUILD, type RunResult } from "./helpers.js";
import { walkTar } from "./tar.js";

const FOLDERS = ["a", "b", "c", "d"];
// (The RUN's own layer is dated by its build; its /tree file, what it saw, is compared instead.)
const DOCKERFILE = "FROM busybox:local\nCOPY . /\nRUN find /a /b /c /d /e /Dockerfile -exec stat -c '%n %h %s %a %u:%g %Y' {} + 2>/dev/null | sort > /tree; true\n";

async function makeContext(dir: string): Promise<void> {
  const old = new Date("2024-05-06T07:08:09Z");
  for (const f of FOLDERS) {
    await mkdir(join(dir, f, "sub"), { recursive: true });
    for (let i = 0; i < 40; i++) await writeFile(join(dir, f, i % 4 === 0 ? "sub" : "", `f${i}`), `${f}/${i}\n`.repeat((i % 20) + 1));
  }
  await writeFile(join(dir, "Dockerfile"), DOCKERFILE);
  for (const f of FOLDERS) for (const d of [join(f, "sub"), f]) await utimes(join(dir, d), old, old);
}

function build(root: string, ctx: string, fast: boolean): Promise<RunResult> {
  const env = { ...process.env, TSBUILD_TRACE: "1", TSBUILD_FAST_COPY: fast ? "1" : "0" };
  const child = spawn(process.execPath, [TSBUILD, "--root", root, "build", "-q", "--network", "none", "-t", "fast:1", ctx], { env, stdio: ["ignore", "pipe", "pipe"] });
  return collect(child);
}

function blob(root: string, digest: string): string {
  return join(root, "blobs", "sha256", digest.replace(/^sha256:/, ""));
}

/** The COPY layer's diffID and what the RUN after it saw. */
function result(root: string, imageId: string): { copyLayer: string; tree: string } {
  const config = JSON.parse(readFileSync(blob(root, imageId), "utf8")) as { rootfs: { diff_ids: string[] } };
  const [, copyLayer, runLayer] = config.rootfs.diff_ids as [string, string, string];
  let tree = "";
  walkTar(blob(root, runLayer), (e, read) => {
    if (e.name !== "tree") return;
    const chunks: Buffer[] = [];
    read((b) => chunks.push(Buffer.from(b)));
    tree = Buffer.concat(chunks).toString("utf8");
  });
  return { copyLayer, tree };
}

describe("COPY's fast path", () => {
  it("gives the layers and the tree a plain copy gives, through edits, mode and mtime changes, additions and deletions", { timeout: 240_000 }, async () => {
    const fastRoot = await freshStore();
    const plainRoot = await freshStore();
    const ctx = await mkdtemp(join(tmpdir(), "tsbuild-test-fastcopy-"));
    try {
      await makeContext(ctx);
      const round = async (label: string, taken: boolean): Promise<void> => {
        const fast = await build(fastRoot, ctx, true);
        assert.equal(fast.code, 0, fast.stderr);
        const plain = await build(plainRoot, ctx, false);
        assert.equal(plain.code, 0, plain.stderr);
        assert.equal(/trace: copy fast path /.test(fast.stderr), taken, `${label}: fast path taken`);
        assert.doesNotMatch(plain.stderr, /trace: copy fast path /, `${label}: TSBUILD_FAST_COPY=0 turns it off`);
        const a = result(fastRoot, fast.stdout.trim());
        const b = result(plainRoot, plain.stdout.trim());
        assert.ok(b.tree.includes("/a/sub 2 "), `${label}: the RUN saw the tree (${b.tree.slice(0, 200)})`);
        assert.equal(a.tree, b.tree, `${label}: what the RUN saw`);
        assert.equal(a.copyLayer, b.copyLayer, `${label}: the COPY layer`);
        assert.equal(createHash("sha256").update(readFileSync(blob(fastRoot, a.copyLayer))).digest("hex"), a.copyLayer.slice(7));
      };
      await round("first build", false);

      await writeFile(join(ctx, "a", "f3"), "edited\n");
      await round("one file edited", true);

      await chmod(join(ctx, "b", "f5"), 0o755);
      await utimes(join(ctx, "c", "f7"), new Date("2020-01-02T03:04:05Z"), new Date("2020-01-02T03:04:05Z")); // mtime only
      await mkdir(join(ctx, "e"));
      await writeFile(join(ctx, "e", "new.txt"), "new\n");
      await utimes(join(ctx, "e"), new Date("2024-05-06T07:08:09Z"), new Date("2024-05-06T07:08:09Z"));
      await round("mode change, touch, new folder", true);

      await rm(join(ctx, "b", "f6"));
      await utimes(join(ctx, "b"), new Date("2024-05-06T07:08:09Z"), new Date("2024-05-06T07:08:09Z"));
      await round("a file deleted", true);

      await rm(join(ctx, "c", "f9"));
      await mkdir(join(ctx, "c", "f9"));
      await writeFile(join(ctx, "c", "f9", "inner"), "inner\n");
      for (const d of ["c/f9", "c"]) await utimes(join(ctx, d), new Date("2024-05-06T07:08:09Z"), new Date("2024-05-06T07:08:09Z"));
      await round("a file became a folder", true);
    } finally {
      await rm(ctx, { recursive: true, force: true });
      await removeStore(fastRoot);
      await removeStore(plainRoot);
    }
  });
});
