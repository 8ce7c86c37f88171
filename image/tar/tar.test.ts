import { test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough, Readable } from "node:stream";
import { mkdtemp, rm, writeFile, mkdir, symlink, link, chmod, lstat, readFile, readlink, chown, utimes } from "node:fs/promises";
import { createReadStream, createWriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { getAttributeSync, setAttributeSync } from "../../common/xattr.js";
import { ArchiveError } from "../../common/errors.js";
import { TarWriter, readTar, type TarEntry } from "./index.js";

async function collect(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function writeAll(members: Array<[TarEntry, Buffer?]>): Promise<Buffer> {
  const out = new PassThrough();
  const done = collect(out);
  const w = new TarWriter(out);
  for (const [e, b] of members) await w.add(e, b);
  await w.finish();
  return done;
}

async function readAll(tar: Buffer): Promise<Array<{ entry: TarEntry; data: Buffer }>> {
  const got: Array<{ entry: TarEntry; data: Buffer }> = [];
  for await (const { entry, body } of readTar(Readable.from([tar]))) got.push({ entry, data: await collect(body) });
  return got;
}

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "tartest-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const base = { mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 1700000000 };
const longName = `${"d".repeat(60)}/${"e".repeat(60)}/${"f".repeat(80)}.txt`;
// A valid security.capability value (v2, cap_net_raw=ep): the kernel rejects malformed ones.
const cap = Buffer.from("0100000200200000000000000000000000000000", "hex");
const binary = Buffer.from([0xff, 0x00, 0x0a, 0x3d, 0x20, 0x80]);

const sample: Array<[TarEntry, Buffer?]> = [
  [{ ...base, path: "dir", type: "dir", mode: 0o1777 }],
  [{ ...base, path: "dir/file", type: "file", mode: 0o4755, uid: 1000, gid: 1000, size: 5, xattrs: new Map([["security.capability", cap], ["trusted.bin", binary]]) }, Buffer.from("hello")],
  [{ ...base, path: "dir/link", type: "hardlink", linkname: "dir/file" }],
  [{ ...base, path: "sym", type: "symlink", mode: 0o777, linkname: "/some/where/" + "x".repeat(120) }],
  [{ ...base, path: "null", type: "char", mode: 0o666, devmajor: 1, devminor: 3 }],
  [{ ...base, path: "loop", type: "block", mode: 0o660, devmajor: 7, devminor: 0 }],
  [{ ...base, path: "pipe", type: "fifo", mode: 0o600 }],
  [{ ...base, path: longName, type: "file", size: 3, uid: 70000000, gid: 5, mtime: 1700000000.25 }, Buffer.from("abc")],
  [{ ...base, path: "ünïcode", type: "file", size: 0, uname: "someone", gname: "group" }],
];

test("writer output round-trips through the reader", async () => {
  const tar = await writeAll(sample);
  assert.equal(tar.length % 512, 0);
  const got = await readAll(tar);
  assert.equal(got.length, sample.length);
  for (let i = 0; i < sample.length; i++) {
    const [want, body] = sample[i] as [TarEntry, Buffer?];
    assert.deepEqual(got[i]?.entry, want);
    assert.deepEqual(got[i]?.data, body ?? Buffer.alloc(0));
  }
  // Deterministic, and re-encoding what we read gives the same bytes.
  assert.deepEqual(await writeAll(sample), tar);
  assert.deepEqual(await writeAll(got.map((g) => [g.entry, g.data])), tar);
});

test("directories carry a trailing slash and plain entries no PAX header", async () => {
  const tar = await writeAll([[{ ...base, path: "a/b", type: "dir", mode: 0o755 }]]);
  assert.equal(tar.subarray(0, 5).toString(), "a/b/\0");
  assert.equal(tar.subarray(257, 265).toString("latin1"), "ustar\x0000");
  assert.equal(tar.subarray(100, 108).toString("latin1"), "0000755\0");
  assert.equal(tar.length, 512 + 1024);
});

test("GNU tar lists and extracts our archive with modes, owners, links and xattrs", async () => {
  await withTmp(async (dir) => {
    const tarPath = join(dir, "x.tar");
    const noDevs = sample.filter(([e]) => e.type !== "block");
    await writeFile(tarPath, await writeAll(noDevs));
    const list = await execa("tar", ["--numeric-owner", "-tvf", tarPath]);
    assert.match(list.stdout, /^-rwsr-xr-x 1000\/1000\s+5 .* dir\/file$/m);
    assert.match(list.stdout, /^hrwxr-xr-x|^h.* dir\/link link to dir\/file$/m);
    assert.match(list.stdout, /^crw-rw-rw- 0\/0\s+1,3 .* null$/m);
    assert.ok(list.stdout.includes(longName), "long name listed");
    const out = join(dir, "out");
    await mkdir(out);
    await execa("tar", ["--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf", tarPath, "-C", out]);
    const st = await lstat(join(out, "dir/file"));
    assert.equal(st.mode & 0o7777, 0o4755);
    assert.equal(st.uid, 1000);
    assert.equal(st.nlink, 2);
    assert.equal((await lstat(join(out, "dir/link"))).ino, st.ino);
    assert.deepEqual(getAttributeSync(join(out, "dir/file"), "security.capability"), cap);
    assert.deepEqual(getAttributeSync(join(out, "dir/file"), "trusted.bin"), binary);
    assert.equal((await lstat(join(out, "dir"))).mode & 0o7777, 0o1777);
    assert.ok((await lstat(join(out, "null"))).isCharacterDevice());
    assert.ok((await lstat(join(out, "pipe"))).isFIFO());
    assert.equal(await readlink(join(out, "sym")), "/some/where/" + "x".repeat(120));
    assert.equal(await readFile(join(out, longName), "utf8"), "abc");
    assert.equal((await lstat(join(out, longName))).uid, 70000000);
  });
});

for (const format of ["gnu", "posix", "ustar", "v7"] as const) {
  test(`reads GNU tar's ${format} archives`, async () => {
    await withTmp(async (dir) => {
      const src = join(dir, "src");
      const long = format === "ustar" || format === "v7" ? "short/name.txt" : `${"n".repeat(120)}/${"m".repeat(50)}`;
      await mkdir(join(src, long, ".."), { recursive: true });
      await writeFile(join(src, long), "content");
      await chown(join(src, long), 123, 456);
      await chmod(join(src, long), 0o2751);
      await utimes(join(src, long), 1600000000, 1600000000);
      await symlink("target/of/link", join(src, "symlink"));
      await link(join(src, long), join(src, "hard"));
      if (format === "posix") setAttributeSync(join(src, long), "trusted.bin", binary);
      const tarPath = join(dir, "g.tar");
      const extra = format === "posix" ? ["--xattrs", "--xattrs-include=*"] : [];
      await execa("tar", [`--format=${format}`, ...extra, "--sort=name", "-cf", tarPath, "-C", src, "."]);
      const got = new Map<string, { entry: TarEntry; data: Buffer }>();
      for await (const { entry, body } of readTar(createReadStream(tarPath))) got.set(entry.path, { entry, data: await collect(body) });
      assert.equal(got.get("")?.entry.type, "dir");
      const hard = got.get("hard");
      const file = got.get(long);
      assert.ok(hard && file, `entries present: ${[...got.keys()].join(", ")}`);
      // GNU tar stores the first of the pair found (sorted by name) as the file.
      const [first, second] = long < "hard" ? [file, hard] : [hard, file];
      assert.equal(first.entry.type, "file");
      assert.equal(first.data.toString(), "content");
      assert.equal(first.entry.mode, 0o2751);
      assert.equal(first.entry.uid, 123);
      assert.equal(first.entry.gid, 456);
      assert.equal(Math.floor(first.entry.mtime), 1600000000);
      assert.equal(second.entry.type, "hardlink");
      assert.equal(second.entry.linkname, first.entry.path);
      assert.equal(got.get("symlink")?.entry.linkname, "target/of/link");
      if (format === "posix") assert.deepEqual(first.entry.xattrs?.get("trusted.bin"), binary);
    });
  });
}

test("an unread body is skipped; a large body streams", async () => {
  const big = Buffer.alloc(3 * 1024 * 1024 + 7, 0x61);
  const tar = await writeAll([
    [{ ...base, path: "skipped", type: "file", size: big.length }, big],
    [{ ...base, path: "read", type: "file", size: big.length }, big],
    [{ ...base, path: "after", type: "file", size: 2 }, Buffer.from("ok")],
  ]);
  const chunks = [];
  for (let i = 0; i < tar.length; i += 10000) chunks.push(tar.subarray(i, i + 10000));
  const seen: string[] = [];
  for await (const { entry, body } of readTar(Readable.from(chunks))) {
    seen.push(entry.path);
    if (entry.path === "read") assert.deepEqual(await collect(body), big);
    if (entry.path === "after") assert.equal((await collect(body)).toString(), "ok");
  }
  assert.deepEqual(seen, ["skipped", "read", "after"]);
});

test("a truncated or corrupt archive throws ArchiveError", async () => {
  const tar = await writeAll([[{ ...base, path: "f", type: "file", size: 2000 }, Buffer.alloc(2000, 1)]]);
  for (const cut of [100, 512 + 1000, 512 + 2048, tar.length - 1024]) {
    await assert.rejects(readAll(tar.subarray(0, cut)), ArchiveError, `cut at ${cut}`);
  }
  const corrupt = Buffer.from(tar);
  corrupt[10] = 0x41;
  await assert.rejects(readAll(corrupt), /bad checksum/);
  await assert.rejects(readAll(Buffer.from("this is not a tar archive".repeat(40))), ArchiveError);
});

test("the writer rejects a body of the wrong size", async () => {
  const w = new TarWriter(new PassThrough());
  await assert.rejects(w.add({ ...base, path: "f", type: "file", size: 3 }, Buffer.from("toolong")), ArchiveError);
  const w2 = new TarWriter(new PassThrough());
  await assert.rejects(w2.add({ ...base, path: "f", type: "file", size: 30 }, Readable.from([Buffer.from("short")])), ArchiveError);
});

test("streams to a file with backpressure", async () => {
  await withTmp(async (dir) => {
    const p = join(dir, "t.tar");
    const w = new TarWriter(createWriteStream(p));
    const big = Buffer.alloc(2 * 1024 * 1024, 7);
    for (let i = 0; i < 5; i++) await w.add({ ...base, path: `f${i}`, type: "file", size: big.length }, Readable.from([big]));
    await w.finish();
    let n = 0;
    for await (const { entry } of readTar(createReadStream(p))) n += entry.size;
    assert.equal(n, 5 * big.length);
  });
});
