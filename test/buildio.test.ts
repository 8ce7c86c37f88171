// What a build reads from standard input and writes for scripts, as `docker build` does: `-f -` (the
// Dockerfile on stdin), `-` (a tar context, or a lone Dockerfile, on stdin), --iidfile, --metadata-file,
// --output.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TSBUILD, collect, freshStore, removeStore, tsbuildOk, type RunResult } from "./helpers.js";

let root: string;
let work: string;

before(async () => {
  root = await freshStore();
  work = await mkdtemp(join(tmpdir(), "tsbuild-buildio-"));
});
after(async () => {
  await removeStore(root);
  await rm(work, { recursive: true, force: true });
});

function withStdin(args: string[], input: Buffer | string): Promise<RunResult> {
  const child = spawn(process.execPath, [TSBUILD, "--root", root, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  child.stdin.end(input);
  return collect(child);
}

async function cat(image: string, path: string): Promise<string> {
  return (await tsbuildOk(["--root", root, "run", "--rm", image, "cat", path])).stdout;
}

test("-f - reads the Dockerfile from standard input; its errors name Dockerfile:line", async () => {
  const ctx = join(work, "ctx1");
  execFileSync("mkdir", ["-p", ctx]);
  await writeFile(join(ctx, "a.txt"), "from the context\n");
  const ok = await withStdin(["build", "-q", "-t", "stdin-df:1", "-f", "-", ctx], "FROM busybox:local\nCOPY a.txt /a.txt\n");
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(await cat("stdin-df:1", "/a.txt"), "from the context\n");
  const bad = await withStdin(["build", "-q", "-f", "-", ctx], "FROM busybox:local\nFROBNICATE x\n");
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^error: Dockerfile:2: unknown instruction: FROBNICATE/);
  assert.deepEqual(await readdir(join(root, "tmp")), [], "the scratch folder is removed");
});

test("- reads a tar context (gzip too) from standard input, -f naming a file inside it", async () => {
  const src = join(work, "tarctx");
  execFileSync("mkdir", ["-p", join(src, "sub")]);
  await writeFile(join(src, "build.Dockerfile"), "FROM busybox:local\nCOPY sub/ /sub/\n");
  await writeFile(join(src, "sub", "b.txt"), "from the tar\n");
  const tar = execFileSync("tar", ["-C", src, "-czf", "-", "."]);
  const r = await withStdin(["build", "-q", "-t", "stdin-ctx:1", "-f", "build.Dockerfile", "-"], tar);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await cat("stdin-ctx:1", "/sub/b.txt"), "from the tar\n");
  assert.deepEqual(await readdir(join(root, "tmp")), []);
});

test("- with a plain Dockerfile on standard input builds without a context", async () => {
  const r = await withStdin(["build", "-q", "-t", "stdin-only:1", "-"], "FROM busybox:local\nRUN echo made > /m\n");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await cat("stdin-only:1", "/m"), "made\n");
  const copy = await withStdin(["build", "-q", "-"], "FROM busybox:local\nCOPY x /x\n");
  assert.equal(copy.code, 1);
  assert.match(copy.stderr, /x/);
});

test("standard input cannot be both the context and the Dockerfile", async () => {
  const r = await withStdin(["build", "-f", "-", "-"], "FROM busybox:local\n");
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim().split("\n").length, 1);
  assert.match(r.stderr, /can't use standard input for both the build context and the Dockerfile/);
});

test("--iidfile and --metadata-file write the image ID and the digests scripts read", async () => {
  const ctx = join(work, "ctx2");
  execFileSync("mkdir", ["-p", ctx]);
  await writeFile(join(ctx, "Dockerfile"), "FROM busybox:local\nLABEL x=y\n");
  const iid = join(work, "iid");
  const meta = join(work, "meta.json");
  await tsbuildOk(["--root", root, "build", "-q", "-t", "meta:1", "-t", "meta:2", "--iidfile", iid, "--metadata-file", meta, ctx]);
  const id = (await tsbuildOk(["--root", root, "inspect", "-f", "{{.Id}}", "meta:1"])).stdout.trim();
  assert.equal(await readFile(iid, "utf8"), id);
  const m = JSON.parse(await readFile(meta, "utf8")) as Record<string, unknown>;
  assert.equal(m["containerimage.config.digest"], id);
  assert.match(String(m["containerimage.digest"]), /^sha256:[0-9a-f]{64}$/);
  assert.deepEqual(m["containerimage.descriptor"], { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: m["containerimage.digest"], size: (m["containerimage.descriptor"] as { size: number }).size });
  assert.equal(m["image.name"], "docker.io/library/meta:1,docker.io/library/meta:2");
});

test("--output: the image's files into a folder or a tar (whiteouts applied), the image as an archive", async () => {
  const ctx = join(work, "ctx3");
  execFileSync("mkdir", ["-p", ctx]);
  await writeFile(join(ctx, "Dockerfile"), "FROM busybox:local\nRUN echo a > /a && echo gone > /gone && chmod 600 /a\nRUN rm /gone\nCOPY c.txt /c.txt\n");
  await writeFile(join(ctx, "c.txt"), "c\n");
  const dir = join(work, "out-local");
  await tsbuildOk(["--root", root, "build", "-q", "-o", `type=local,dest=${dir}`, ctx]);
  assert.equal(await readFile(join(dir, "a"), "utf8"), "a\n");
  assert.equal(await readFile(join(dir, "c.txt"), "utf8"), "c\n");
  assert.equal((await stat(join(dir, "a"))).mode & 0o777, 0o600);
  assert.ok((await stat(join(dir, "bin", "busybox"))).isFile());
  await assert.rejects(stat(join(dir, "gone")), { code: "ENOENT" });

  const short = join(work, "out-short");
  await tsbuildOk(["--root", root, "build", "-q", "-o", short, ctx]);
  assert.equal(await readFile(join(short, "c.txt"), "utf8"), "c\n");

  const tarOut = spawnSync(process.execPath, [TSBUILD, "--root", root, "build", "--progress", "plain", "-o", "-", ctx], { maxBuffer: 64 << 20 });
  assert.equal(tarOut.status, 0, tarOut.stderr.toString());
  const names = execFileSync("tar", ["-t"], { input: tarOut.stdout }).toString().split("\n").map((n) => n.replace(/^\.\//, "").replace(/\/$/, ""));
  assert.ok(names.includes("a") && names.includes("c.txt") && names.includes("bin/busybox"), names.slice(0, 20).join(" "));
  assert.ok(!names.includes("gone"));

  const archive = join(work, "out.tar");
  await tsbuildOk(["--root", root, "build", "-q", "-t", "out:1", "-o", `type=docker,dest=${archive}`, ctx]);
  const other = await mkdtemp(join(tmpdir(), "tsbuild-buildio-other-"));
  try {
    await tsbuildOk(["--root", other, "load", "-i", archive]);
    assert.equal((await tsbuildOk(["--root", other, "run", "--rm", "out:1", "cat", "/c.txt"])).stdout, "c\n");
  } finally {
    await removeStore(other);
  }
  const bad = await withStdin(["build", "-o", "type=floppy,dest=x", ctx], "");
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /unknown type "floppy"/);
  assert.deepEqual(await readdir(join(root, "tmp")), []);
});
