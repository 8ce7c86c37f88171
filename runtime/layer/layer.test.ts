import { test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough, Readable } from "node:stream";
import { chmod, chown, link, lstat, mkdir, mkdtemp, readFile, readlink, rm, symlink, utimes, lutimes, writeFile, readdir } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { gunzipSync } from "node:zlib";
import { errnoCode } from "../../common/errors.js";
import { getAttributeSync, listAttributesSync, setAttributeSync } from "../../common/xattr.js";
import { ArchiveError } from "../../common/errors.js";
import { sha256, sha256File } from "../../common/digest.js";
import { TarWriter, readTar, type TarEntry } from "../../image/tar/index.js";
import { applyLayerTar, writeLayerTar, writeLayerTarToFile } from "./index.js";

async function collect(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function layerBytes(dir: string): Promise<Buffer> {
  const out = new PassThrough();
  const done = collect(out);
  await writeLayerTar(dir, out);
  return done;
}

async function entriesOf(tar: Buffer): Promise<TarEntry[]> {
  const list: TarEntry[] = [];
  for await (const { entry } of readTar(Readable.from([tar]))) list.push(entry);
  return list;
}

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "layertest-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const cap = Buffer.from("0100000200200000000000000000000000000000", "hex"); // cap_net_raw=ep
const T = 1600000000;
const longName = `${"l".repeat(90)}/${"m".repeat(90)}`;

/** An upper dir as overlayfs leaves it, with every kind of entry. */
async function makeUpper(u: string): Promise<void> {
  await mkdir(join(u, "a/b"), { recursive: true });
  await writeFile(join(u, "a/b/file"), "in b");
  await writeFile(join(u, "a-b"), "sorts between a and a/");
  await writeFile(join(u, "suid"), "#!/bin/sh\n");
  await chown(join(u, "suid"), 1000, 1001);
  await chmod(join(u, "suid"), 0o4755);
  await writeFile(join(u, "capped"), "cap");
  setAttributeSync(join(u, "capped"), "security.capability", cap);
  setAttributeSync(join(u, "capped"), "user.note", Buffer.from([0, 1, 255]));
  await writeFile(join(u, "hl1"), "shared");
  await link(join(u, "hl1"), join(u, "hl2"));
  await symlink("a/b/file", join(u, "sym"));
  await mkdir(join(u, "tmp"));
  await chmod(join(u, "tmp"), 0o1777);
  await execa("mknod", [join(u, "null"), "c", "1", "3"]);
  await execa("mknod", [join(u, "loop9"), "b", "7", "9"]);
  await execa("mknod", [join(u, "fifo"), "p"]);
  await execa("mknod", [join(u, "deleted"), "c", "0", "0"]); // overlay whiteout
  await mkdir(join(u, "opaque"));
  setAttributeSync(join(u, "opaque"), "trusted.overlay.opaque", "y");
  await writeFile(join(u, "opaque/new"), "replaced dir content");
  await execa("mknod", [join(u, "opaque/gone"), "c", "0", "0"]);
  await mkdir(join(u, longName, ".."), { recursive: true });
  await writeFile(join(u, longName), "long");
  await writeFile(join(u, "ünï"), "utf8");
  const sock = createServer();
  await new Promise<void>((r) => sock.listen(join(u, "socket"), r));
  sock.close();
  await writeFile(join(u, "socket-check"), "");
  for (const p of ["a/b/file", "a-b", "suid", "capped", "hl1", "tmp", "null", "loop9", "fifo", "deleted", "opaque/new", "opaque", "a/b", "a"]) {
    await utimes(join(u, p), T, T + 0.75);
  }
  await lutimes(join(u, "sym"), T, T + 5);
}

test("common/xattr acts on a symlink itself, not its target; binary values survive; errors carry a code", async () => {
  await withTmp(async (d) => {
    await writeFile(join(d, "t"), "");
    setAttributeSync(join(d, "t"), "trusted.a", "1");
    const binary = Buffer.from([0, 255, 10, 0, 7]);
    setAttributeSync(join(d, "t"), "user.bin", binary);
    await symlink("t", join(d, "l"));
    assert.equal(getAttributeSync(join(d, "l"), "trusted.a"), null);
    assert.deepEqual(listAttributesSync(join(d, "l")), []);
    assert.deepEqual(listAttributesSync(join(d, "t")).sort(), ["trusted.a", "user.bin"]);
    assert.deepEqual(getAttributeSync(join(d, "t"), "user.bin"), binary);
    assert.equal(getAttributeSync(join(d, "t"), "user.none"), null);
    assert.throws(() => listAttributesSync(join(d, "missing")), (e: unknown) => errnoCode(e) === "ENOENT");
  });
});

test("an upper dir becomes a deterministic OCI layer tar", async () => {
  await withTmp(async (d) => {
    const u = join(d, "upper");
    await mkdir(u);
    await makeUpper(u);
    const tar = await layerBytes(u);
    assert.deepEqual(await layerBytes(u), tar, "two runs give equal bytes");
    const entries = await entriesOf(tar);
    const paths = entries.map((e) => e.path);
    assert.ok(!paths.includes("socket"), "sockets skipped");
    // Per-directory bytewise order, a directory before its contents (as BuildKit's walk).
    assert.deepEqual(paths.slice(0, 4), ["a", "a/b", "a/b/file", "a-b"]);
    const byPath = new Map(entries.map((e) => [e.path, e]));
    assert.deepEqual(byPath.get(".wh.deleted"), { path: ".wh.deleted", type: "file", mode: 0o600, uid: 0, gid: 0, size: 0, mtime: T });
    const opaqueAt = paths.indexOf("opaque");
    assert.equal(paths[opaqueAt + 1], "opaque/.wh..wh..opq");
    assert.equal(byPath.get("opaque/.wh..wh..opq")?.mtime, 0);
    assert.ok(paths.includes("opaque/.wh.gone"));
    assert.equal(byPath.get("opaque")?.xattrs, undefined, "trusted.overlay.* dropped");
    assert.deepEqual(byPath.get("suid"), { path: "suid", type: "file", mode: 0o4755, uid: 1000, gid: 1001, size: 10, mtime: T });
    assert.deepEqual(byPath.get("capped")?.xattrs, new Map([["security.capability", cap], ["user.note", Buffer.from([0, 1, 255])]]));
    assert.equal(byPath.get("hl1")?.type, "file");
    assert.deepEqual({ ...byPath.get("hl2") }, { path: "hl2", type: "hardlink", linkname: "hl1", mode: 0o644, uid: 0, gid: 0, size: 0, mtime: T });
    assert.equal(byPath.get("sym")?.linkname, "a/b/file");
    assert.equal(byPath.get("sym")?.mtime, T + 5);
    assert.equal(byPath.get("tmp")?.mode, 0o1777);
    assert.deepEqual([byPath.get("null")?.type, byPath.get("null")?.devmajor, byPath.get("null")?.devminor], ["char", 1, 3]);
    assert.deepEqual([byPath.get("loop9")?.type, byPath.get("loop9")?.devmajor, byPath.get("loop9")?.devminor], ["block", 7, 9]);
    assert.equal(byPath.get("fifo")?.type, "fifo");
    assert.ok(byPath.has(longName) && byPath.has("ünï"));
    for (const e of entries) assert.ok(e.uname === undefined && e.gname === undefined && Number.isInteger(e.mtime));
  });
});

test("apply then write again gives identical bytes; the snapshot is in overlay format", async () => {
  await withTmp(async (d) => {
    const u = join(d, "upper");
    const s = join(d, "snap");
    await mkdir(u);
    await mkdir(s);
    await makeUpper(u);
    const tar = await layerBytes(u);
    await applyLayerTar(Readable.from([tar]), s);
    assert.deepEqual(await layerBytes(s), tar);
    const wh = await lstat(join(s, "deleted"));
    assert.ok(wh.isCharacterDevice() && wh.rdev === 0);
    assert.equal(getAttributeSync(join(s, "opaque"), "trusted.overlay.opaque")?.toString(), "y");
    assert.ok((await lstat(join(s, "opaque/gone"))).isCharacterDevice());
    const suid = await lstat(join(s, "suid"));
    assert.deepEqual([suid.mode & 0o7777, suid.uid, suid.gid], [0o4755, 1000, 1001]);
    assert.deepEqual(getAttributeSync(join(s, "capped"), "security.capability"), cap);
    assert.equal((await lstat(join(s, "hl1"))).ino, (await lstat(join(s, "hl2"))).ino);
    assert.equal(await readlink(join(s, "sym")), "a/b/file");
    assert.equal((await lstat(join(s, "sym"))).mtimeMs, (T + 5) * 1000);
    assert.equal((await lstat(join(s, "a"))).mtimeMs, T * 1000, "directory mtimes set after their contents");
    assert.equal((await lstat(join(s, "null"))).rdev, (await lstat("/dev/null")).rdev);
    assert.ok((await lstat(join(s, "fifo"))).isFIFO());
    assert.equal(await readFile(join(s, longName), "utf8"), "long");
  });
});

test("GNU tar extracts our layer tar with modes, owners, links and xattrs", async () => {
  await withTmp(async (d) => {
    const u = join(d, "upper");
    const x = join(d, "x");
    await mkdir(u);
    await mkdir(x);
    await makeUpper(u);
    const { diffId, size } = await writeLayerTarToFile(u, join(d, "layer.tar"));
    assert.equal(diffId, await sha256File(join(d, "layer.tar")));
    assert.equal(size, (await lstat(join(d, "layer.tar"))).size);
    assert.equal(diffId, sha256(await layerBytes(u)));
    const list = await execa("tar", ["--numeric-owner", "-tvf", join(d, "layer.tar")]);
    assert.match(list.stdout, /^-rwsr-xr-x 1000\/1001 .* suid$/m);
    assert.match(list.stdout, /^h.* hl2 link to hl1$/m);
    assert.match(list.stdout, /^-rw------- 0\/0 .* \.wh\.deleted$/m);
    await execa("tar", ["--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf", join(d, "layer.tar"), "-C", x]);
    assert.equal((await lstat(join(x, "suid"))).mode & 0o7777, 0o4755);
    assert.deepEqual(getAttributeSync(join(x, "capped"), "security.capability"), cap);
    assert.equal((await lstat(join(x, "hl1"))).ino, (await lstat(join(x, "hl2"))).ino);
    assert.equal((await lstat(join(x, "loop9"))).isBlockDevice(), true);
    assert.deepEqual((await readdir(join(x, "opaque"))).sort(), [".wh..wh..opq", ".wh.gone", "new"]);
  });
});

test("a real overlayfs diff: deletions become whiteouts, a replaced directory is opaque", async () => {
  await withTmp(async (d) => {
    const [lower, upper, work, merged] = ["lower", "upper", "work", "merged"].map((n) => join(d, n)) as [string, string, string, string];
    for (const p of [lower, upper, work, merged]) await mkdir(p);
    await mkdir(join(lower, "dir"));
    await writeFile(join(lower, "dir/old"), "old");
    await writeFile(join(lower, "victim"), "x");
    await execa("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${lower},upperdir=${upper},workdir=${work}`, merged]);
    try {
      await rm(join(merged, "victim"));
      await rm(join(merged, "dir"), { recursive: true });
      await mkdir(join(merged, "dir"));
      await writeFile(join(merged, "dir/new"), "new");
    } finally {
      await execa("umount", [merged]);
    }
    const paths = (await entriesOf(await layerBytes(upper))).map((e) => `${e.type}:${e.path}`);
    // The whiteout sits where "victim" sorts, after "dir" and its contents.
    assert.deepEqual(paths, ["dir:dir", "file:dir/.wh..wh..opq", "file:dir/new", "file:.wh.victim"]);
  });
});

async function tarOf(members: Array<[TarEntry, Buffer?]>): Promise<Buffer> {
  const out = new PassThrough();
  const done = collect(out);
  const w = new TarWriter(out);
  for (const [e, b] of members) await w.add(e, b);
  await w.finish();
  return done;
}

const f = { mode: 0o644, uid: 0, gid: 0, size: 0, mtime: T };

test("entries cannot escape the target: .., symlinked parents, hardlinks out", async () => {
  await withTmp(async (d) => {
    const outside = join(d, "outside");
    await mkdir(outside);
    const cases: Array<Array<[TarEntry, Buffer?]>> = [
      [[{ ...f, path: "../escape", type: "file", size: 1 }, Buffer.from("x")]],
      [[{ ...f, path: "a/../../escape", type: "file", size: 1 }, Buffer.from("x")]],
      [[{ ...f, path: "lnk", type: "symlink", linkname: outside }], [{ ...f, path: "lnk/escape", type: "file", size: 1 }, Buffer.from("x")]],
      [[{ ...f, path: "lnk", type: "symlink", linkname: "../outside" }], [{ ...f, path: "lnk/.wh.x", type: "file" }]],
      [[{ ...f, path: "hl", type: "hardlink", linkname: "../outside/secret" }]],
      [[{ ...f, path: "lnk", type: "symlink", linkname: outside }], [{ ...f, path: "hl", type: "hardlink", linkname: "lnk/secret" }]],
      [[{ ...f, path: ".wh...", type: "file" }]],
    ];
    await writeFile(join(outside, "secret"), "s");
    for (const [i, members] of cases.entries()) {
      const target = join(d, `t${i}`);
      await mkdir(target);
      await assert.rejects(applyLayerTar(Readable.from([await tarOf(members)]), target), ArchiveError, `case ${i}`);
    }
    assert.deepEqual(await readdir(outside), ["secret"]);
    assert.equal((await lstat(join(outside, "secret"))).nlink, 1);
    // An absolute path is taken as relative to the target.
    const t = join(d, "abs");
    await mkdir(t);
    const tar = await tarOf([[{ ...f, path: "x", type: "file", size: 1 }, Buffer.from("y")]]);
    tar.write("/etc/x\0", 0, "latin1"); // rewrite the name, then fix the checksum
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : (tar[i] as number);
    tar.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
    await applyLayerTar(Readable.from([tar]), t);
    assert.equal(await readFile(join(t, "etc/x"), "utf8"), "y");
  });
});

test("a truncated layer tar is rejected", async () => {
  await withTmp(async (d) => {
    const tar = await tarOf([[{ ...f, path: "big", type: "file", size: 5000 }, Buffer.alloc(5000, 3)]]);
    await assert.rejects(applyLayerTar(Readable.from([tar.subarray(0, 3000)]), d), ArchiveError);
  });
});

// The layer BuildKit (dockerd 26) wrote for
//   RUN mkdir -p /x/sub && echo a > /x/a && echo b > /x/sub/b && ln /x/a /x/hl && ln -s a /x/sym &&
//       mkfifo /x/fifo && chmod 4755 /x/a && touch -d "2020-09-13 12:26:40" /x/a
// (gzip, base64). Applying it and writing it back must give BuildKit's own bytes, i.e. its diffID.
const BUILDKIT_LAYER = "H4sIAAAAAAACA+2YwW7CMAyGfeYp+ga1HSd+nhaomDTERADB29OiHUYPiE6LYaq/S6oqUht99R83q/WphsJgj8Z4G3vG4+2aYkAUTVEYkBADQhXBgGM+NPv+Vf5ikT8X909YH5Zv6Z+j+7fga78r/gH8wj+T+zchX/Jb1r96/ptwrss/Y5r/AMNsZvdv47+x8C+P/TNQUFah7/uaRKFC91+cZgHOjDnX3Ue3K5//SeT5/CcMSaBKXv8G/jefr89/vM9/QhGCiiw2p9n7z8e2Ll//k/q/vv4peP9n5799cf7z2L94/2dD6/3fzPu/fNla/P+rTsl/Gc7/uPH6dxzHKcUVyn2ISgAeAAA=";
const BUILDKIT_DIFF_ID = "sha256:1ca385b4165e8ada4633cab424015ef9ab774664e673f7e3ddac9b4ed0969545";

test("a BuildKit layer applied and written back keeps BuildKit's diffID", async () => {
  await withTmp(async (d) => {
    const tar = gunzipSync(Buffer.from(BUILDKIT_LAYER, "base64"));
    assert.equal(sha256(tar), BUILDKIT_DIFF_ID);
    await applyLayerTar(Readable.from([tar]), join(d, "snap"));
    const again = await layerBytes(join(d, "snap"));
    assert.equal(sha256(again), BUILDKIT_DIFF_ID);
    const st = await lstat(join(d, "snap/x/a"));
    assert.deepEqual([st.mode & 0o7777, st.nlink, st.mtimeMs], [0o4755, 2, 1600000000 * 1000]);
  });
});

test("many device nodes and whiteouts are created in batches", async () => {
  await withTmp(async (d) => {
    const members: Array<[TarEntry, Buffer?]> = [[{ ...f, path: "d", type: "dir", mode: 0o755 }]];
    for (let i = 0; i < 1200; i++) members.push([{ ...f, path: `d/.wh.n${String(i).padStart(4, "0")}`, type: "file" }]);
    members.push([{ ...f, path: "d/p", type: "fifo", mode: 0o640, uid: 7 }]);
    await applyLayerTar(Readable.from([await tarOf(members)]), join(d, "s"));
    const names = await readdir(join(d, "s/d"));
    assert.equal(names.length, 1201);
    const last = await lstat(join(d, "s/d/n1199"));
    assert.ok(last.isCharacterDevice() && last.rdev === 0 && (last.mode & 0o7777) === 0);
    const p = await lstat(join(d, "s/d/p"));
    assert.deepEqual([p.isFIFO(), p.mode & 0o7777, p.uid], [true, 0o640, 7]);
    assert.equal((await lstat(join(d, "s/d"))).mtimeMs, T * 1000);
  });
});
