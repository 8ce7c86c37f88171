// Error lines name their place and quote little: a load of an archive whose layer tar is cut short
// names the archive, the layer and the image; a RUN line of megabytes fails with a line of hundreds
// of characters.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { execFileSync, spawn } from "node:child_process";
import { gzipSync } from "node:zlib";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { busyboxRootfs, collect, freshStore, removeStore, storeListing, tsbuild, tsbuildOk, TSBUILD, type RunResult } from "./helpers.js";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "tsbuild-errors-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test("load refuses an archive whose layer tar is truncated, naming the archive, the layer and the image", { timeout: 60_000 }, () =>
  withDir(async (dir) => {
    // a docker-archive whose digests all agree, but whose layer is the first 30,000 bytes of a tar
    const layer = (await readFile(await busyboxRootfs())).subarray(0, 30_000);
    const diffId = `sha256:${createHash("sha256").update(layer).digest("hex")}`;
    await writeFile(join(dir, "layer.tar"), layer);
    await writeFile(join(dir, "config.json"), JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [diffId] }, config: {} }));
    await writeFile(join(dir, "manifest.json"), JSON.stringify([{ Config: "config.json", RepoTags: ["cut:1"], Layers: ["layer.tar"] }]));
    const archive = join(dir, "cut.tar");
    execFileSync("tar", ["-cf", archive, "-C", dir, "manifest.json", "config.json", "layer.tar"]);
    const root = join(dir, "store");
    assert.equal((await tsbuild(["--root", root, "images"])).code, 0);
    const before = storeListing(root);

    const r = await tsbuild(["--root", root, "load", "-i", archive]);

    assert.equal(r.code, 1);
    assert.equal(r.stderr, `error: ${archive}: layer layer.tar of cut:1: tar archive truncated at byte 30000: inside entry bin/busybox\n`);
    assert.deepEqual(storeListing(root), before, "nothing tagged, no blob kept");
  }));

test("a RUN line of a megabyte fails with an error of a few hundred characters", { timeout: 60_000 }, async () => {
  const root = await freshStore();
  try {
    await withDir(async (dir) => {
      await writeFile(join(dir, "Dockerfile"), `FROM busybox:local\nRUN false ${"x".repeat(1 << 20)}\n`);
      const r = await tsbuild(["--root", root, "build", "--progress", "plain", dir]);
      assert.equal(r.code, 1);
      const errorLine = r.stderr.split("\n").filter((l) => l.startsWith("error: "));
      assert.equal(errorLine.length, 1, r.stderr.slice(-2000));
      assert.match(errorLine[0] as string, /^error: \S*Dockerfile:2: RUN false x+…\[\d+ characters left out\]…x+" did not complete successfully: exit code 1$/);
      assert.ok((errorLine[0] as string).length < 800, `${(errorLine[0] as string).length} characters`);
      // (the plain progress names the step as written, once: that is the progress renderer's to shorten)
      const rest = r.stderr.split("\n").filter((l) => !l.startsWith("#")).join("\n");
      assert.ok(rest.length < 4000, `stderr besides progress: ${rest.length} characters`);
    });
  } finally {
    await removeStore(root);
  }
});

test("a full disk under the store: load and build fail with one line saying so and what to do, nothing left behind", { timeout: 60_000 }, () =>
  withDir(async (dir) => {
    const small = join(dir, "small");
    await mkdir(small);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=6m", "tmpfs", small]);
    try {
      const root = join(small, "store");
      await writeFile(join(dir, "rootfs.tar"), await readFile(await busyboxRootfs()));
      assert.equal((await tsbuild(["--root", root, "import", join(dir, "rootfs.tar"), "busybox:local"])).code, 0);
      // an archive of a 5 MB layer: staged, it does not fit beside the busybox layer
      const src = join(dir, "src");
      await mkdir(join(src, "rootfs"), { recursive: true });
      await writeFile(join(src, "rootfs", "big"), randomBytes(5 << 20));
      execFileSync("tar", ["-cf", join(src, "layer.tar"), "-C", join(src, "rootfs"), "big"]);
      const other = join(dir, "other-store");
      assert.equal((await tsbuild(["--root", other, "import", join(src, "layer.tar"), "big:1"])).code, 0);
      assert.equal((await tsbuild(["--root", other, "save", "-o", join(dir, "big.tar"), "big:1"])).code, 0);

      const load = await tsbuild(["--root", root, "load", "-i", join(dir, "big.tar")]);
      assert.equal(load.code, 1);
      assert.equal(load.stderr, `error: no space left on device loading ${join(dir, "big.tar")}: free some (tsbuild image prune, tsbuild cache prune) or put the store where there is room (--root)\n`);
      assert.deepEqual(await readdir(join(root, "tmp")), []);

      await writeFile(join(src, "Dockerfile"), "FROM busybox:local\nCOPY rootfs/big /big\n");
      const build = await tsbuild(["--root", root, "build", "-q", src]);
      assert.equal(build.code, 1);
      assert.match(build.stderr, /^error: no space left on device[^\n]*: free some \(tsbuild image prune, tsbuild cache prune\) or put the store where there is room \(--root\)\n$/);
      const check = await tsbuild(["--root", root, "system", "check"]);
      assert.equal(check.code, 0, `the failed load and build left nothing behind:\n${check.stdout}`);
    } finally {
      execFileSync("umount", ["-l", small]);
    }
  }));

test("load refuses a layer that expands past the limit, naming it and the setting that raises it; nothing stored", { timeout: 60_000 }, () =>
  withDir(async (dir) => {
    // a docker-archive whose gzipped layer holds 16 MB of zeros (16 KB compressed)
    const rootfs = join(dir, "rootfs");
    await mkdir(rootfs);
    await writeFile(join(rootfs, "zeros"), Buffer.alloc(16 << 20));
    execFileSync("tar", ["-cf", join(dir, "layer.tar"), "-C", rootfs, "zeros"]);
    const plain = await readFile(join(dir, "layer.tar"));
    await writeFile(join(dir, "layer.tar.gz"), gzipSync(plain));
    const diffId = `sha256:${createHash("sha256").update(plain).digest("hex")}`;
    await writeFile(join(dir, "config.json"), JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [diffId] }, config: {} }));
    await writeFile(join(dir, "manifest.json"), JSON.stringify([{ Config: "config.json", RepoTags: ["bomb:1"], Layers: ["layer.tar.gz"] }]));
    const archive = join(dir, "bomb.tar");
    execFileSync("tar", ["-cf", archive, "-C", dir, "manifest.json", "config.json", "layer.tar.gz"]);
    const root = join(dir, "store");
    assert.equal((await tsbuild(["--root", root, "images"])).code, 0);
    const before = storeListing(root);

    const r = await tsbuildWithEnv(["--root", root, "load", "-i", archive], { TSBUILD_MAX_LAYER_SIZE: "8M" });

    assert.equal(r.code, 1);
    assert.equal(r.stderr, `error: ${archive}: layer layer.tar.gz: expands past 8 MiB, the most a layer may (TSBUILD_MAX_LAYER_SIZE raises it)\n`);
    assert.deepEqual(storeListing(root), before);
    assert.deepEqual(await readdir(join(root, "tmp")), []);
    assert.equal((await tsbuild(["--root", root, "load", "-i", archive])).code, 0, "within the default limits");
  }));

test("ADD of an archive that expands past a layer's limit: one line with the ADD line and the archive; within the limit it extracts", { timeout: 60_000 }, () =>
  withDir(async (dir) => {
    const ctx = join(dir, "ctx");
    await mkdir(join(ctx, "rootfs"), { recursive: true });
    await writeFile(join(ctx, "rootfs", "zeros"), Buffer.alloc(16 << 20));
    execFileSync("tar", ["-cf", join(dir, "zeros.tar"), "-C", join(ctx, "rootfs"), "zeros"]);
    await rm(join(ctx, "rootfs"), { recursive: true });
    await writeFile(join(ctx, "zeros.tar.gz"), gzipSync(await readFile(join(dir, "zeros.tar"))));
    await writeFile(join(ctx, "Dockerfile"), "FROM scratch\nADD zeros.tar.gz /d/\n");
    const root = join(dir, "store");

    const r = await tsbuildWithEnv(["--root", root, "build", "-q", ctx], { TSBUILD_MAX_LAYER_SIZE: "8M" });

    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: \S*Dockerfile:2: zeros\.tar\.gz: expands past 8 MiB, the most a layer may \(TSBUILD_MAX_LAYER_SIZE raises it\)\n$/);
    assert.deepEqual(await readdir(join(root, "tmp")), []);
    assert.equal((await tsbuild(["--root", root, "build", "-q", ctx])).code, 0, "within the default limits");
  }));

/** tsbuild with extra environment variables. */
function tsbuildWithEnv(args: string[], env: Record<string, string>): Promise<RunResult> {
  const child = spawn(process.execPath, [TSBUILD, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  return collect(child);
}

test("load refuses an OCI layout whose layer descriptor gives the wrong size; nothing stored", { timeout: 60_000 }, () =>
  withDir(async (dir) => {
    const source = join(dir, "source");
    await tsbuildOk(["--root", source, "import", await busyboxRootfs(), "small:1"]);
    const layout = join(dir, "layout");
    await mkdir(layout);
    await tsbuildOk(["--root", source, "save", "--format", "oci", "-o", join(dir, "good.tar"), "small:1"]);
    execFileSync("tar", ["-xf", join(dir, "good.tar"), "-C", layout]);
    // the manifest says its layer is one byte longer than it is (digests all true)
    const index = JSON.parse(await readFile(join(layout, "index.json"), "utf8")) as { manifests: Array<{ digest: string; size: number }> };
    const top = index.manifests[0] as { digest: string; size: number };
    const manifest = JSON.parse(await readFile(join(layout, "blobs", "sha256", top.digest.slice(7)), "utf8")) as { layers: Array<{ digest: string; size: number }> };
    const layer = manifest.layers[0] as { digest: string; size: number };
    layer.size += 1;
    const bytes = Buffer.from(JSON.stringify(manifest));
    const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    await writeFile(join(layout, "blobs", "sha256", digest.slice(7)), bytes);
    Object.assign(top, { digest, size: bytes.length });
    await writeFile(join(layout, "index.json"), JSON.stringify(index));
    const archive = join(dir, "lying.tar");
    execFileSync("tar", ["-cf", archive, "-C", layout, "."]);
    const root = join(dir, "store");
    assert.equal((await tsbuild(["--root", root, "images"])).code, 0);
    const before = storeListing(root);

    const r = await tsbuild(["--root", root, "load", "-i", archive]);

    assert.equal(r.code, 1);
    assert.equal(r.stderr, `error: ${archive}: layer ${layer.digest}: ${layer.size - 1} bytes, its descriptor says ${layer.size}\n`);
    assert.deepEqual(storeListing(root), before);
  }));
