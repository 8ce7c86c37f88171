// The native unpack (fastapply.ts) against the plain one (apply.ts with TSBUILD_FAST_UNPACK=0): the
// same layer gives the same tree, entry for entry (type, mode, owner, size, mtime, device, link
// target, content, xattrs, hardlink groups); and the cache of open parent folders cannot be used to
// write through an entry that replaced one of them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough, Readable } from "node:stream";
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ArchiveError } from "../../common/errors.js";
import { sha256 } from "../../common/digest.js";
import { getAttributeSync, listAttributesSync } from "../../common/xattr.js";
import { TarWriter, type TarEntry } from "../../image/tar/index.js";
import { applyLayerTar, applyLayerTarPlain } from "./index.js";
import { TarFileSource } from "../../image/tar/filesource.js";

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "fastapply-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function tarOf(members: Array<[TarEntry, Buffer?]>): Promise<Buffer> {
  const out = new PassThrough();
  const parts: Buffer[] = [];
  out.on("data", (c: Buffer) => parts.push(c));
  const done = new Promise((r) => out.on("end", r));
  const w = new TarWriter(out);
  for (const [e, b] of members) await w.add(e, b);
  await w.finish();
  await done;
  return Buffer.concat(parts);
}

const T = 1600000000;
const f = { mode: 0o644, uid: 0, gid: 0, size: 0, mtime: T };
const cap = Buffer.from("0100000200200000000000000000000000000000", "hex");

function file(path: string, content: string | Buffer, extra: Partial<TarEntry> = {}): [TarEntry, Buffer] {
  const body = Buffer.isBuffer(content) ? content : Buffer.from(content);
  return [{ ...f, path, type: "file", size: body.length, ...extra }, body];
}

/** Every kind of entry, entries replacing earlier ones, and whiteouts of what the layer made. */
function richLayer(): Array<[TarEntry, Buffer?]> {
  const big = Buffer.alloc(700 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
  const m: Array<[TarEntry, Buffer?]> = [
    [{ ...f, path: "", type: "dir", mode: 0o755 }],
    [{ ...f, path: "etc", type: "dir", mode: 0o750, uid: 3, gid: 4, mtime: T + 1, xattrs: new Map([["user.dir", Buffer.from("d")]]) }],
    file("etc/passwd", "root:x:0:0\n", { mode: 0o600, uid: 0, gid: 42, mtime: T + 2.5 }),
    file("etc/empty", ""),
    file("big", big, { mode: 0o755, uid: 1000, gid: 1000, mtime: T + 3 }),
    file("suid", "#!/bin/sh\n", { mode: 0o4755, uid: 1000, gid: 1001 }),
    file("capped", "cap", { xattrs: new Map([["security.capability", cap], ["user.note", Buffer.from([0, 1, 255])]]) }),
    file("deep/a/b/c/d/file", "implicit parents"),
    [{ ...f, path: "hl", type: "hardlink", linkname: "etc/passwd" }],
    [{ ...f, path: "deep/a/hl2", type: "hardlink", linkname: "big" }],
    [{ ...f, path: "sym", type: "symlink", linkname: "etc/passwd", mtime: T + 5, uid: 7, gid: 8 }],
    [{ ...f, path: "dangling", type: "symlink", linkname: "/nowhere/at/all" }],
    [{ ...f, path: "dev/null", type: "char", mode: 0o666, devmajor: 1, devminor: 3 }],
    [{ ...f, path: "dev/loop9", type: "block", mode: 0o660, gid: 6, devmajor: 7, devminor: 9 }],
    [{ ...f, path: "dev/fifo", type: "fifo", mode: 0o640, uid: 9 }],
    [{ ...f, path: "tmp", type: "dir", mode: 0o1777 }],
    file("tmp/gone", "soon deleted"),
    [{ ...f, path: "tmp/.wh.gone", type: "file" }],
    [{ ...f, path: "tmp/.wh.never-there", type: "file", mtime: T + 9 }],
    [{ ...f, path: "opaque", type: "dir", mode: 0o755 }],
    [{ ...f, path: "opaque/.wh..wh..opq", type: "file" }],
    file("opaque/new", "new"),
    // replacements: a file by a directory, a directory (with contents) by a file, a file by a symlink
    file("x", "a file first"),
    [{ ...f, path: "x", type: "dir", mode: 0o711 }],
    file("x/inside", "in the dir that replaced a file"),
    [{ ...f, path: "y", type: "dir", mode: 0o755 }],
    file("y/child", "goes with y"),
    file("y", "a file replaces the directory"),
    file("z", "z"),
    [{ ...f, path: "z", type: "symlink", linkname: "x" }],
    [{ ...f, path: "ünï/ça", type: "dir", mode: 0o700, uid: 65534, gid: 65534 }],
    file(`${"l".repeat(120)}/${"m".repeat(120)}`, "long"),
    [{ ...f, path: "etc", type: "dir", mode: 0o755, mtime: T + 11 }], // the same directory again: kept, metadata again
  ];
  for (let i = 0; i < 50; i++) m.push(file(`many/f${i}`, `${i}`, { mode: 0o600 + (i % 8), uid: i, mtime: T + i / 4 }));
  return m;
}

interface Described {
  [path: string]: string;
}

/** Every entry of the tree as one comparable line; hardlinks as groups of paths sharing an inode. */
async function describe(root: string): Promise<Described> {
  const out: Described = {};
  const inodes = new Map<number, string[]>();
  const walk = async (rel: string): Promise<void> => {
    const abs = rel === "" ? root : join(root, rel);
    const st = await lstat(abs);
    const kind = st.isDirectory() ? "dir" : st.isFile() ? "file" : st.isSymbolicLink() ? "symlink" : st.isCharacterDevice() ? "char" : st.isBlockDevice() ? "block" : st.isFIFO() ? "fifo" : "other";
    const xattrs = listAttributesSync(abs).sort().map((n) => `${n}=${getAttributeSync(abs, n)?.toString("hex")}`).join(",");
    let extra = "";
    if (kind === "file") extra = sha256(await readFile(abs));
    if (kind === "symlink") extra = await readlink(abs);
    if (kind === "char" || kind === "block") extra = String(st.rdev);
    // a folder the layer has no entry for (a missing parent, or the root) has the time it was made
    const mtime = kind === "dir" && st.mtimeMs > (T + 1e6) * 1000 ? "now" : st.mtimeMs;
    out[rel] = [kind, (st.mode & 0o7777).toString(8), st.uid, st.gid, st.size * Number(kind !== "dir"), mtime, st.nlink * Number(kind !== "dir"), extra, xattrs].join(" ");
    if (kind !== "dir" && st.nlink > 1) inodes.set(st.ino, [...(inodes.get(st.ino) ?? []), rel]);
    if (kind === "dir") for (const name of (await readdir(abs)).sort()) await walk(rel === "" ? name : `${rel}/${name}`);
  };
  await walk("");
  for (const group of inodes.values()) out[`hardlinks ${group.sort().join(" ")}`] = "";
  return out;
}

test("from a stored blob, large files are copied by the kernel and the tree is the plain unpack's", async () => {
  await withTmp(async (d) => {
    const members = richLayer();
    const huge = Buffer.alloc(3 * 1024 * 1024 + 5); // several reads' worth, not a multiple of a block
    for (let i = 0; i < huge.length; i++) huge[i] = (i * 13 + 1) & 0xff;
    members.push(file("huge", huge, { mode: 0o640, uid: 5, gid: 6, mtime: T + 20, xattrs: new Map([["user.big", Buffer.from("b")]]) }));
    members.push(file("after-huge", "the reader skipped to the right place"));
    const tar = await tarOf(members);
    await writeFile(join(d, "layer.tar"), tar);
    await applyLayerTarPlain(Readable.from([tar]), join(d, "plain"));
    await applyLayerTar(new TarFileSource(join(d, "layer.tar")), join(d, "fast"));
    assert.deepEqual(await describe(join(d, "fast")), await describe(join(d, "plain")));
    assert.equal(sha256(await readFile(join(d, "fast", "huge"))), sha256(huge));
    // a blob on another filesystem (tmpfs here): copy_file_range refuses, the copy goes through a buffer
    const shm = await mkdtemp(join("/dev/shm", "fastapply-"));
    try {
      await writeFile(join(shm, "layer.tar"), tar);
      await applyLayerTar(new TarFileSource(join(shm, "layer.tar")), join(d, "across"));
      assert.deepEqual(await describe(join(d, "across")), await describe(join(d, "plain")));
    } finally {
      await rm(shm, { recursive: true, force: true });
    }
  });
});

test("the native unpack gives the plain unpack's tree: modes, owners, mtimes, xattrs, links, devices, whiteouts", async () => {
  await withTmp(async (d) => {
    const tar = await tarOf(richLayer());
    await applyLayerTarPlain(Readable.from([tar]), join(d, "plain"));
    await applyLayerTar(Readable.from([tar]), join(d, "fast"));
    const plain = await describe(join(d, "plain"));
    const fast = await describe(join(d, "fast"));
    assert.deepEqual(fast, plain);
    // and what that tree is (so that both cannot be wrong alike)
    assert.match(fast["tmp/gone"] ?? "", /^char 0 0 0 0 /);
    assert.match(fast["tmp/never-there"] ?? "", /^char 0 0 0 0 1600000009000 /);
    assert.match(fast.opaque ?? "", /trusted\.overlay\.opaque=79/);
    assert.match(fast.suid ?? "", /^file 4755 1000 1001 /);
    assert.match(fast.capped ?? "", /security\.capability=01000002/);
    assert.match(fast.etc ?? "", /^dir 755 0 0 0 1600000011000 .*user\.dir=64/);
    assert.match(fast["etc/passwd"] ?? "", /^file 600 0 42 11 1600000002500 2 /);
    assert.ok("hardlinks big deep/a/hl2" in fast && "hardlinks etc/passwd hl" in fast);
    assert.match(fast.y ?? "", /^file /);
    assert.match(fast.z ?? "", /^symlink .* x /);
    assert.match(fast["dev/loop9"] ?? "", /^block 660 0 6 /);
    assert.equal(fast["y/child"], undefined);
  });
});

test("an entry that replaces a folder whose fd the unpack holds open cannot be written through", async () => {
  await withTmp(async (d) => {
    const outside = join(d, "outside");
    await mkdir(outside);
    const cases: Array<Array<[TarEntry, Buffer?]>> = [
      // a/b is open (a/b/c was just made there), then a symlink to outside takes its place
      [file("a/b/c", "c"), [{ ...f, path: "a/b", type: "symlink", linkname: outside }], file("a/b/d", "escaped?")],
      [file("a/b/c", "c"), [{ ...f, path: "a", type: "symlink", linkname: outside }], file("a/b/d", "escaped?")],
      [file("a/b/c", "c"), [{ ...f, path: "a/b", type: "symlink", linkname: outside }], [{ ...f, path: "a/b/.wh.x", type: "file" }]],
      [file("a/b/c", "c"), [{ ...f, path: "a/b", type: "symlink", linkname: outside }], [{ ...f, path: "a/b/.wh..wh..opq", type: "file" }]],
      [file("a/b/c", "c"), [{ ...f, path: "a/b", type: "symlink", linkname: outside }], [{ ...f, path: "a/b/dev", type: "fifo" }]],
      [file("a/b/c", "c"), [{ ...f, path: "a/b", type: "symlink", linkname: outside }], [{ ...f, path: "a/b/l", type: "hardlink", linkname: "a/b/c" }]],
      [[{ ...f, path: "l", type: "symlink", linkname: outside }], [{ ...f, path: "h", type: "hardlink", linkname: "l/secret" }]],
    ];
    await writeFile(join(outside, "secret"), "s");
    for (const [i, members] of cases.entries()) {
      await assert.rejects(applyLayerTar(Readable.from([await tarOf(members)]), join(d, `t${i}`)), (e: unknown) => {
        assert.ok(e instanceof ArchiveError, `case ${i}: ${String(e)}`);
        assert.match(e.message, /is not a directory in the layer/);
        return true;
      });
    }
    assert.deepEqual(await readdir(outside), ["secret"]);
    assert.equal((await lstat(join(outside, "secret"))).nlink, 1);
    assert.equal(getAttributeSync(outside, "trusted.overlay.opaque"), null);
  });
});

test("a missing hardlink target and a failing system call name the entry", async () => {
  await withTmp(async (d) => {
    const missing = await tarOf([[{ ...f, path: "h", type: "hardlink", linkname: "nope" }]]);
    await assert.rejects(applyLayerTar(Readable.from([missing]), join(d, "a")), /^ArchiveError: layer tar entry h: hardlink target nope is not in the layer$/);
    // a name longer than the file system allows: the error carries the code and the path, as Node's fs
    const long = await tarOf([file(`dir/${"n".repeat(300)}`, "x")]);
    await assert.rejects(applyLayerTar(Readable.from([long]), join(d, "b")), (e: unknown) => {
      assert.equal((e as { code?: string }).code, "ENAMETOOLONG");
      assert.ok((e as Error).message.includes(join(d, "b", "dir", "n".repeat(300))), (e as Error).message);
      return true;
    });
  });
});
