// Replays a Dockerfile that was built with BuildKit (dockerd 26) and compares the result file by file
// with what BuildKit produced (expectations transcribed from imgtree.py's output of that build).
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmod, chown, lstat, mkdir, readFile, symlink, utimes, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { posix } from "node:path";
import { getAttribute } from "../../common/xattr.js";
import { listTree, makeContext, step, withRoots } from "./testkit.js";

const EXPECTED = [
  "/a1 dir 755 0:0", "/a1/x file 600 1234:5678 2", "/a1/y dir 755 1234:5678", "/a1/y/z file 644 1234:5678 2",
  "/a2 dir 755 0:0", "/a2/x file 600 1234:5678 2", "/a2/y dir 755 1234:5678", "/a2/y/z file 644 1234:5678 2",
  "/a3 dir 755 0:0", "/a3/x file 600 1234:5678 2", "/a3/y dir 755 1234:5678", "/a3/y/z file 644 1234:5678 2",
  "/a4 file 644 0:0 13",
  // ADD --chown=7:8 of an archive: BuildKit 0.13 left the entries 1234:5678; v0.23 gives them the owner
  // (moby/buildkit 46e52f472), which tsbuild follows (testdata/oracle-differences.md)
  "/a5 dir 755 7:8", "/a5/x file 600 7:8 2", "/a5/y dir 755 7:8", "/a5/y/z file 644 7:8 2",
  "/a6 dir 755 0:0", "/a6/x file 600 0:0 2", "/a6/y dir 755 0:0", "/a6/y/z file 644 0:0 2",
  "/a7 dir 755 0:0", "/a7/x file 600 0:0 2", "/a7/y dir 755 0:0", "/a7/y/z file 644 0:0 2",
  "/a8 dir 755 0:0", "/a8/x file 600 0:0 2", "/a8/y dir 755 0:0", "/a8/y/z file 644 0:0 2",
  "/c1 dir 755 0:0", "/c1/a.txt file 644 0:0 2", "/c1/hard file 644 0:0 2", "/c1/link symlink 777 0:0 -> a.txt",
  "/c1/sub dir 700 0:0", "/c1/sub/s.txt file 644 0:0 2",
  "/c10 file 755 0:0 10",
  "/c11 file 644 0:0 6",
  "/c12 file 600 0:0 6",
  "/c13 dir 755 0:0", "/c13/file.txt file 4755 0:0 2", "/c13/inner file 644 0:0 2", "/c13/one.txt file 644 0:0 2",
  "/c13/two.txt file 644 0:0 2",
  "/c14 dir 755 5:6", "/c14/d dir 755 5:6", "/c14/d/f file 4711 5:6 2", "/c14/d/l symlink 777 5:6 -> f",
  "/c16 dir 755 0:0", "/c16/a.txt file 644 0:0 2", "/c16/hard file 644 0:0 2", "/c16/link symlink 777 0:0 -> a.txt",
  "/c16/sub dir 700 0:0", "/c16/sub/s.txt file 644 0:0 2",
  "/c17 dir 755 0:0", "/c17/EOF2 file 755 0:0 2",
  "/c2 dir 755 0:0", "/c2/a.txt file 644 0:0 2", "/c2/hard file 644 0:0 2", "/c2/link symlink 777 0:0 -> a.txt",
  "/c2/sub dir 700 0:0", "/c2/sub/s.txt file 644 0:0 2",
  "/c3 file 4755 0:0 2",
  "/c4 dir 755 0:0", "/c4/file.txt file 4755 0:0 2",
  "/c5 dir 755 1000:1000", "/c5/p dir 755 1000:1000", "/c5/p/q dir 755 1000:1000", "/c5/p/q/file.txt file 4755 1000:1000 2",
  "/c6 file 4755 0:0 2",
  "/c7 dir 755 0:0", "/c7/a.txt file 751 0:0 2", "/c7/hard file 751 0:0 2", "/c7/link symlink 777 0:0 -> a.txt",
  "/c7/sub dir 751 0:0", "/c7/sub/s.txt file 751 0:0 2",
  "/c8 dir 755 0:0", "/c8/d dir 755 1000:1002", "/c8/d/f file 4711 1000:1002 2", "/c8/d/l symlink 777 0:0 -> f",
  "/c9 file 4711 1000:1002 2",
  "/e1 dir 700 33:33", "/e1/file.txt file 4755 0:0 2", "/e1/new dir 755 1000:1000", "/e1/new/file.txt file 4755 1000:1000 2",
  "/etc dir 755 0:0", "/etc/file.txt file 4755 0:0 2",
  "/ln1 symlink 777 0:0 -> /tgt", "/ln2 symlink 777 0:0 -> ../../tgt2",
  "/tgt dir 755 0:0", "/tgt/one.txt file 644 0:0 2", "/tgt2 dir 755 0:0", "/tgt2/two.txt file 644 0:0 2",
];

test("COPY/ADD of the probe Dockerfile gives BuildKit's files, modes and owners", async () => {
  await withRoots(["ctx", "rootfs", "other"], async (r) => {
    const roots = { ctx: r.ctx as string, rootfs: r.rootfs as string };
    const other = r.other as string;
    await makeContext(roots.ctx);
    await mkdir(posix.join(roots.rootfs, "etc"), { mode: 0o755 });
    // FROM busybox AS other: RUN mkdir -p /o/d && echo o > /o/d/f && chown -R 1000:1002 /o && chmod 4711 /o/d/f && ln -s f /o/d/l
    await mkdir(posix.join(other, "o/d"), { recursive: true });
    await writeFile(posix.join(other, "o/d/f"), "o\n");
    for (const p of ["o", "o/d", "o/d/f"]) await chown(posix.join(other, p), 1000, 1002);
    await chmod(posix.join(other, "o/d/f"), 0o4711);
    await symlink("f", posix.join(other, "o/d/l"));

    await step(roots, ["dir"], "/c1");
    await step(roots, ["dir/"], "/c2/");
    await step(roots, ["file.txt"], "/c3");
    await step(roots, ["file.txt"], "/c4/");
    await step(roots, ["file.txt"], "/c5/p/q/", { chown: { uid: 1000, gid: 1000 } });
    await step(roots, ["flink"], "/c6");
    await step(roots, ["dir"], "/c7", { chmod: 0o751 });
    await step(roots, ["/o"], "/c8", { from: other });
    await step(roots, ["/o/d/l"], "/c9", { from: other });
    await step(roots, ["capfile"], "/c10");
    await step(roots, [], "/c11", { inline: [{ name: "EOF2", content: "hello\n" }] });
    await step(roots, [], "/c12", { chmod: 0o600, inline: [{ name: "EOF2", content: "hello\n" }] });
    await step(roots, ["*.txt"], "/c13/");
    await step(roots, ["file.txt"], "/etc");
    await step(roots, ["plain.tar"], "/a1", { add: true });
    await step(roots, ["gz.tgz"], "/a2/", { add: true });
    await step(roots, ["renamed.bin"], "/a3", { add: true });
    await step(roots, ["fake.tar.gz"], "/a4", { add: true });
    await step(roots, ["gz.tgz"], "/a5", { add: true, chown: { uid: 7, gid: 8 } });
    await step(roots, ["b.tbz"], "/a6", { add: true });
    await step(roots, ["x.txz"], "/a7", { add: true });
    await step(roots, ["z.tzst"], "/a8", { add: true });
    // RUN ln -s /tgt /ln1 && mkdir /tgt && ln -s ../../tgt2 /ln2
    await symlink("/tgt", posix.join(roots.rootfs, "ln1"));
    await mkdir(posix.join(roots.rootfs, "tgt"));
    await symlink("../../tgt2", posix.join(roots.rootfs, "ln2"));
    await step(roots, ["one.txt"], "/ln1/");
    await step(roots, ["two.txt"], "/ln2/");
    await step(roots, ["/o"], "/c14", { from: other, chown: { uid: 5, gid: 6 } });
    await step(roots, ["dir"], "/c16/");
    // RUN mkdir -p /e1 && chown 33:33 /e1 && chmod 700 /e1
    await mkdir(posix.join(roots.rootfs, "e1"));
    await chown(posix.join(roots.rootfs, "e1"), 33, 33);
    await chmod(posix.join(roots.rootfs, "e1"), 0o700);
    await step(roots, ["file.txt"], "/e1/");
    await step(roots, ["file.txt"], "/e1/new/", { chown: { uid: 1000, gid: 1000 } });
    await step(roots, [], "/c17/", { chmod: 0o755, inline: [{ name: "EOF2", content: "x\n" }] });

    assert.deepEqual(await listTree(roots.rootfs), EXPECTED);

    // Contents, hardlinks, xattrs.
    assert.equal(await readFile(posix.join(roots.rootfs, "c6"), "utf8"), "f\n");
    assert.equal(await readFile(posix.join(roots.rootfs, "c11"), "utf8"), "hello\n");
    assert.equal(await readFile(posix.join(roots.rootfs, "a2/y/z"), "utf8"), "B\n");
    const [a, h] = [await lstat(posix.join(roots.rootfs, "c1/a.txt")), await lstat(posix.join(roots.rootfs, "c1/hard"))];
    assert.equal(a.ino, h.ino, "hardlinks inside a copied folder stay hardlinks (BuildKit's layer has c1/hard -> c1/a.txt)");
    assert.equal((await getAttribute(posix.join(roots.rootfs, "c10"), "user.foo"))?.toString(), "bar");
    // BuildKit's copy chowns after setting xattrs, so the kernel drops the capability: none survives.
    assert.equal(await getAttribute(posix.join(roots.rootfs, "c10"), "security.capability"), null);
    // Destination symlinks are resolved inside the rootfs: nothing was written to the host's /tgt or /tgt2.
    await assert.rejects(lstat("/tgt2/two.txt"), { code: "ENOENT" });
  });
});

test("a folder copy's destination takes the source folder's times; folders made on the way and for a file are dated now", async () => {
  // Layer tars of BuildKit 0.13 (dockerd 26) for the same steps: new, a/b/c and exist carry the
  // source's mtime, a, a/b and fnew the build's time; `COPY . /app/` dates /app by the context's transfer.
  await withRoots(["ctx", "rootfs"], async (r) => {
    const roots = { ctx: r.ctx as string, rootfs: r.rootfs as string };
    await makeContext(roots.ctx);
    const old = new Date("2001-01-01T00:00:00Z");
    await utimes(posix.join(roots.ctx, "dir"), old, old);
    await utimes(roots.ctx, old, old);
    await mkdir(posix.join(roots.rootfs, "exist"));
    const before = Date.now() - 1000;
    await step(roots, ["dir"], "/new/");
    await step(roots, ["dir"], "/a/b/c");
    await step(roots, ["dir"], "/exist/");
    await step(roots, ["file.txt"], "/fnew/");
    await step(roots, ["."], "/app/");
    const mtime = async (p: string): Promise<number> => (await lstat(posix.join(roots.rootfs, p))).mtimeMs;
    for (const p of ["new", "a/b/c", "exist"]) assert.equal(await mtime(p), old.getTime(), p);
    for (const p of ["a", "a/b", "fnew", "app"]) assert.ok((await mtime(p)) > before, `${p} is dated now`);
    assert.equal((await lstat(posix.join(roots.rootfs, "exist"))).mode & 0o7777, 0o755, "an existing destination keeps its mode");
  });
});

test("a socket in the build context is copied as an empty regular file with its permission bits and times", async () => {
  // BuildKit 0.13 (dockerd 26, and through buildx 0.13): /c/socket.sock 0640 0:0, empty, the socket's mtime.
  await withRoots(["ctx", "rootfs"], async (r) => {
    const roots = { ctx: r.ctx as string, rootfs: r.rootfs as string };
    await makeContext(roots.ctx);
    const sock = posix.join(roots.ctx, "socket.sock");
    const server = createServer();
    await new Promise<void>((done) => server.listen(sock, done));
    try {
      await chmod(sock, 0o640);
      const old = new Date("2001-01-01T00:00:00Z");
      await utimes(sock, old, old);
      await step(roots, ["."], "/c/");
      await step(roots, ["socket.sock"], "/s");
      for (const p of ["c/socket.sock", "s"]) {
        const st = await lstat(posix.join(roots.rootfs, p));
        assert.ok(st.isFile(), p);
        assert.equal(st.size, 0);
        assert.equal(st.mode & 0o7777, 0o640);
        assert.equal(st.mtimeMs, old.getTime());
      }
    } finally {
      await new Promise((done) => server.close(done));
    }
  });
});
