// Hostile archives, through the commands a user runs: docker-archives whose layer tries to get out
// (`..`, absolute paths, a symlink then a path through it, hardlinks out, a symlink replacing a
// folder the unpack is in), device nodes; and the same tars, and truncated ones, given to ADD (a bomb
// and a truncated layer through load: errors.test.ts).
// Whatever each does, nothing outside the store (and the image) is touched, a failure is one line
// without a stack, and `system check` finds the store clean afterwards.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { lstat, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { PassThrough } from "node:stream";
import { gzipSync } from "node:zlib";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listAttributesSync } from "../common/xattr.js";
import { TarWriter, type TarEntry } from "../image/tar/index.js";
import { freshStore, removeStore, tsbuild, tsbuildOk, type RunResult } from "./helpers.js";

let root: string;
let work: string;
let outside: string;

before(async () => {
  root = await freshStore();
  work = await mkdtemp(join(tmpdir(), "tsbuild-hostile-"));
  outside = join(work, "outside");
  await mkdir(outside);
  await writeFile(join(outside, "secret"), "s");
});

after(async () => {
  await removeStore(root);
  await rm(work, { recursive: true, force: true });
});

const T = 1600000000;
const f = { mode: 0o644, uid: 0, gid: 0, size: 0, mtime: T };

function file(path: string, text: string): [TarEntry, Buffer] {
  return [{ ...f, path, type: "file", size: Buffer.byteLength(text) }, Buffer.from(text)];
}

async function tarOf(members: Array<[TarEntry, Buffer?]>): Promise<Buffer> {
  const out = new PassThrough();
  const parts: Buffer[] = [];
  out.on("data", (c: Buffer) => parts.push(c));
  const ended = new Promise((r) => out.on("end", r));
  const w = new TarWriter(out);
  for (const [e, b] of members) await w.add(e, b);
  await w.finish();
  await ended;
  return Buffer.concat(parts);
}

/** From any folder under the store, up to "/" and down to `abs`: a `..` path that would reach it. */
function climbTo(abs: string): string {
  return `${"../".repeat(24)}${abs.slice(1)}`;
}

/** The hostile layers, by name; each is also given to ADD. */
function hostileLayers(): Record<string, Array<[TarEntry, Buffer?]>> {
  return {
    dotdot: [file(climbTo(join(outside, "dotdot")), "out")],
    dotdotmid: [file(`a/../../${climbTo(join(outside, "dotdotmid"))}`, "out")],
    absolute: [file(join(outside, "absolute"), "in the image, not on the host")],
    symlinkthrough: [[{ ...f, path: "lnk", type: "symlink", linkname: outside }], file("lnk/through", "out")],
    symlinkrelative: [[{ ...f, path: "lnk", type: "symlink", linkname: climbTo(outside) }], file("lnk/through2", "out")],
    symlinkreplacesdir: [file("d/e/first", "x"), [{ ...f, path: "d/e", type: "symlink", linkname: outside }], file("d/e/second", "out")],
    hardlinkdotdot: [[{ ...f, path: "hl", type: "hardlink", linkname: climbTo(join(outside, "secret")) }]],
    hardlinkabsolute: [[{ ...f, path: "hl", type: "hardlink", linkname: join(outside, "secret") }]],
    hardlinkthrough: [[{ ...f, path: "lnk", type: "symlink", linkname: outside }], [{ ...f, path: "hl", type: "hardlink", linkname: "lnk/secret" }]],
    whiteoutthrough: [[{ ...f, path: "lnk", type: "symlink", linkname: outside }], [{ ...f, path: "lnk/.wh.secret", type: "file" }]],
    opaquethrough: [[{ ...f, path: "lnk", type: "symlink", linkname: outside }], [{ ...f, path: "lnk/.wh..wh..opq", type: "file" }]],
    devices: [
      [{ ...f, path: "dev/disk", type: "block", mode: 0o660, devmajor: 8, devminor: 0 }],
      [{ ...f, path: "dev/mem", type: "char", mode: 0o640, devmajor: 1, devminor: 1 }],
      [{ ...f, path: "dev/pipe", type: "fifo", mode: 0o600 }],
    ],
  };
}

/** A docker-archive of one image `name` whose only layer is `layer` (digests all agree). */
async function dockerArchive(name: string, layer: Buffer): Promise<string> {
  const dir = await mkdtemp(join(work, "archive-"));
  const diffId = `sha256:${createHash("sha256").update(layer).digest("hex")}`;
  await writeFile(join(dir, "layer.tar"), layer);
  await writeFile(join(dir, "config.json"), JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [diffId] }, config: {} }));
  await writeFile(join(dir, "manifest.json"), JSON.stringify([{ Config: "config.json", RepoTags: [name], Layers: ["layer.tar"] }]));
  const archive = join(work, `${name.replace(/[:/]/g, "-")}.tar`);
  execFileSync("tar", ["-cf", archive, "-C", dir, "manifest.json", "config.json", "layer.tar"]);
  return archive;
}

function assertOneLine(r: RunResult, what: string): void {
  assert.equal(r.code, 1, `${what}: ${r.stderr}`);
  assert.match(r.stderr, /^error: [^\n]+\n$/, `${what}: one line`);
  assert.ok(r.stderr.length < 1000, `${what}: a short line`);
}

async function assertOutsideUntouched(what: string): Promise<void> {
  assert.deepEqual((await readdir(outside)).sort(), ["secret"], what);
  const st = await lstat(join(outside, "secret"));
  assert.deepEqual([st.nlink, st.size, st.isFile()], [1, 1, true], what);
  assert.deepEqual(listAttributesSync(outside), [], `${what}: no xattr on the folder`);
}

async function assertStoreClean(what: string): Promise<void> {
  const check = await tsbuild(["--root", root, "system", "check"]);
  assert.equal(check.code, 0, `${what}:\n${check.stdout}${check.stderr}`);
}

test("hostile layers through load and a build FROM them: nothing outside touched, one-line errors, the store clean", { timeout: 90_000 }, async () => {
  const ctx = join(work, "ctx");
  await mkdir(ctx, { recursive: true });
  await writeFile(join(ctx, "f"), "f");
  for (const [name, members] of Object.entries(hostileLayers())) {
    const ref = `hostile-${name.toLowerCase()}:1`;
    const archive = await dockerArchive(ref, await tarOf(members));
    const load = await tsbuild(["--root", root, "load", "-i", archive]);
    if (load.code !== 0) {
      assertOneLine(load, `load ${name}`);
    } else {
      // a step on it unpacks the layer
      await writeFile(join(ctx, "Dockerfile"), `FROM ${ref}\nCOPY f /copied\n`);
      const build = await tsbuild(["--root", root, "build", "-q", ctx]);
      if (name === "devices" || name === "absolute") {
        assert.equal(build.code, 0, `${name}: ${build.stderr}`); // legitimate: made inside the image
      } else {
        assertOneLine(build, `build FROM ${name}`);
        assert.match(build.stderr, /layer/, `${name}: names the layer`);
      }
    }
    await assertOutsideUntouched(name);
  }
  await assertStoreClean("after the hostile loads and builds");
});

test("hostile tars given to ADD: extracted inside the destination or refused in one line; the store clean", { timeout: 90_000 }, async () => {
  const ctx = join(work, "addctx");
  await mkdir(ctx, { recursive: true });
  const layers = hostileLayers();
  // the ways out that ADD's own extraction (not the layer unpack) has to stop
  const names = ["dotdotmid", "absolute", "symlinkrelative", "symlinkreplacesdir", "hardlinkthrough", "devices"];
  for (const name of names) await writeFile(join(ctx, `${name}.tar`), await tarOf(layers[name] ?? []));
  // a truncated one, plain and gzipped
  const whole = await tarOf([file("big", "x".repeat(20_000))]);
  await writeFile(join(ctx, "truncated.tar"), whole.subarray(0, 9_000));
  await writeFile(join(ctx, "truncatedgz.tar"), gzipSync(whole).subarray(0, 100));
  for (const name of [...names, "truncated", "truncatedgz"]) {
    const src = `${name}.tar`;
    await writeFile(join(ctx, "Dockerfile"), `FROM busybox:local\nADD ${src} /dest/\n`);
    const r = await tsbuild(["--root", root, "build", "-q", ctx]);
    if (r.code !== 0) {
      assertOneLine(r, `ADD ${name}`);
      assert.match(r.stderr, new RegExp(`^error: [^\n]*Dockerfile:2: ${src}: `), `ADD ${name}: names the line and the archive`);
    }
    await assertOutsideUntouched(`ADD ${name}`);
  }
  await assertStoreClean("after the hostile ADDs");
  assert.ok(!existsSync(join(outside, "through")));
});
