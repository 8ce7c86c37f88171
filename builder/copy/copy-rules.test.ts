// More BuildKit answers (dockerd 26), one rule per test; each comment quotes what BuildKit did.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmod, chown, lstat, mkdir, readFile, readlink, stat, symlink, writeFile } from "node:fs/promises";
import { posix } from "node:path";
import { getAttribute, setAttribute } from "../../common/xattr.js";
import { DockerfileError, UserError } from "../../common/errors.js";
import { makeContext as makeBuildContext } from "../../cache/context.js";
import { assertLocalSource, copyIntoRootfs } from "./copy.js";
import { matchSources } from "./match.js";
import { listTree, makeContext, place, step, withRoots } from "./testkit.js";

type Roots = { ctx: string; rootfs: string };

async function scenario(fn: (roots: Roots, other: string) => Promise<void>): Promise<void> {
  await withRoots(["ctx", "rootfs", "other"], async (r) => {
    const roots = { ctx: r.ctx as string, rootfs: r.rootfs as string };
    await makeContext(roots.ctx);
    await mkdir(posix.join(roots.rootfs, "etc"));
    await writeFile(posix.join(roots.rootfs, "etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
    await fn(roots, r.other as string);
  });
}

const at = (roots: Roots, p: string) => posix.join(roots.rootfs, p);

test("a destination symlink is followed inside the rootfs, also as the final component", () =>
  scenario(async (roots) => {
    // RUN mkdir /tgt3 && ln -s /tgt3 /l3 && ln -s /nonexist /l4 && echo old > /f5 && ln -s /f5 /l5
    await mkdir(at(roots, "tgt3"));
    await symlink("/tgt3", at(roots, "l3"));
    await symlink("/nonexist", at(roots, "l4"));
    await writeFile(at(roots, "f5"), "old\n");
    await symlink("/f5", at(roots, "l5"));
    await step(roots, ["one.txt"], "/l3"); // BuildKit: /tgt3/one.txt
    await step(roots, ["one.txt"], "/l4"); // BuildKit: /nonexist is the file, /l4 stays a link
    await step(roots, ["one.txt"], "/l5"); // BuildKit: written through: /f5 = "x\n", /l5 stays a link
    assert.equal(await readFile(at(roots, "tgt3/one.txt"), "utf8"), "x\n");
    assert.equal(await readFile(at(roots, "nonexist"), "utf8"), "x\n");
    assert.equal(await readFile(at(roots, "f5"), "utf8"), "x\n");
    assert.equal(await readlink(at(roots, "l4")), "/nonexist");
    assert.equal(await readlink(at(roots, "l5")), "/f5");
    // An escape attempt through ../ in a link stays inside the rootfs.
    await symlink("../../../../../../escape-probe", at(roots, "esc"));
    await step(roots, ["two.txt"], "/esc/");
    assert.equal(await readFile(at(roots, "escape-probe/two.txt"), "utf8"), "y\n");
    await assert.rejects(lstat("/escape-probe"), { code: "ENOENT" });
  }));

test("sources: ../ is clamped to the context, symlinks are followed inside it, wildcards follow links too", () =>
  scenario(async (roots) => {
    await symlink("dir", posix.join(roots.ctx, "dirlink"));
    await symlink("/one.txt", posix.join(roots.ctx, "abslink"));
    await writeFile(posix.join(roots.ctx, "bx"), "bx\n");
    await writeFile(posix.join(roots.ctx, "axb"), "axb\n");
    await step(roots, ["../one.txt"], "/y1"); // BuildKit: /y1 = one.txt
    await step(roots, ["dirlink/a.txt"], "/m1");
    await step(roots, ["abslink"], "/m2"); // "/one.txt" means the context's one.txt
    await step(roots, ["[ab]x"], "/m3b/");
    await step(roots, ["dir/*/s.txt"], "/m4/");
    await step(roots, ["fl*"], "/m5/"); // BuildKit: /m5/flink is a regular file 4755
    await step(roots, ["dir*"], "/m13/"); // dir and dirlink: both copy dir's contents
    assert.deepEqual(await listTree(roots.rootfs, "/"), [
      "/etc dir 755 0:0", "/etc/passwd file 644 0:0 26",
      "/m1 file 644 0:0 2",
      "/m13 dir 755 0:0", "/m13/a.txt file 644 0:0 2", "/m13/hard file 644 0:0 2", "/m13/link symlink 777 0:0 -> a.txt",
      "/m13/sub dir 700 0:0", "/m13/sub/s.txt file 644 0:0 2",
      "/m2 file 644 0:0 2",
      "/m3b dir 755 0:0", "/m3b/bx file 644 0:0 3",
      "/m4 dir 755 0:0", "/m4/s.txt file 644 0:0 2",
      "/m5 dir 755 0:0", "/m5/flink file 4755 0:0 2",
      "/y1 file 644 0:0 2",
    ]);
  }));

test("COPY . copies the whole context minus ignored files; links inside stay links", () =>
  scenario(async (roots) => {
    await step(roots, ["."], "/m6/");
    const listing = await listTree(roots.rootfs, "/m6");
    assert.ok(listing.includes("/m6/dir dir 750 0:0"), "nested folders keep their mode");
    assert.ok(listing.includes("/m6/flink symlink 777 0:0 -> file.txt"));
    assert.ok(listing.includes("/m6/file.txt file 4755 0:0 2"), "context owners become 0:0");
    assert.ok(!listing.some((l) => l.startsWith("/m6/ignored.txt") || l.startsWith("/m6/dir/sub/s2.txt")));
    assert.equal((await stat(at(roots, "m6"))).mode & 0o7777, 0o755);
  }));

test("several sources to a path without / are copied in turn (BuildKit: the last file wins)", () =>
  scenario(async (roots) => {
    await step(roots, ["one.txt", "two.txt"], "/x");
    assert.equal(await readFile(at(roots, "x"), "utf8"), "y\n");
    // BuildKit: COPY *.txt /x fails when wdir.txt (a folder) meets the file /x.
    await assert.rejects(step(roots, ["*.txt"], "/w"), (e: unknown) => {
      assert.ok(e instanceof DockerfileError);
      assert.equal(e.message, "Dockerfile:3: cannot copy to non-directory: /w");
      return true;
    });
    // BuildKit: a wildcard that matches nothing is no error, and creates nothing.
    await step(roots, ["nomatch*.txt"], "/none/");
    await assert.rejects(lstat(at(roots, "none")), { code: "ENOENT" });
    // BuildKit: COPY o*.txt /w1 (one match) makes /w1 the file
    await step(roots, ["o*.txt"], "/w1");
    assert.equal(await readFile(at(roots, "w1"), "utf8"), "x\n");
    await step(roots, ["one.txt"], "/m7");
    await step(roots, ["two.txt"], "/m7");
    assert.equal(await readFile(at(roots, "m7"), "utf8"), "y\n");
  }));

test("non-folders in the way fail with BuildKit's messages", () =>
  scenario(async (roots) => {
    await writeFile(at(roots, "f1"), "hi\n");
    const fails = (p: Promise<void>, message: string) =>
      assert.rejects(p, (e: unknown) => e instanceof DockerfileError && e.message === `Dockerfile:3: ${message}`);
    await fails(step(roots, ["dir"], "/f1"), "cannot copy to non-directory: /f1");
    await fails(step(roots, ["one.txt"], "/f1/x"), "mkdir /f1: not a directory");
    await fails(step(roots, ["one.txt"], "/etc/passwd/"), "mkdir /etc/passwd: not a directory");
    // inside a copied folder, a folder where a file goes: "cannot replace to directory ... with file"
    await mkdir(at(roots, "p/a.txt"), { recursive: true });
    await fails(step(roots, ["dir"], "/p"), "cannot replace to directory /p/a.txt with file");
  }));

test("copying a folder over an existing tree: nested folders take the source's metadata, links are replaced", () =>
  scenario(async (roots) => {
    // RUN mkdir -p /p/sub && chown 9:9 /p/sub && chmod 0777 /p/sub && echo tgt > /ptarget && ln -s /ptarget /p/link
    await mkdir(at(roots, "p/sub"), { recursive: true });
    await chown(at(roots, "p/sub"), 9, 9);
    await chmod(at(roots, "p/sub"), 0o777);
    await chown(at(roots, "p"), 4, 4);
    await writeFile(at(roots, "ptarget"), "tgt\n");
    await symlink("/ptarget", at(roots, "p/a.txt"));
    await step(roots, ["dir"], "/p");
    assert.deepEqual((await listTree(roots.rootfs, "/p")).slice(0, 4), [
      "/p/a.txt file 644 0:0 2", // BuildKit: the link is replaced by the file, /ptarget untouched
      "/p/hard file 644 0:0 2",
      "/p/link symlink 777 0:0 -> a.txt",
      "/p/sub dir 700 0:0", // BuildKit: 9:9 0777 became the source's 0:0 0700
    ]);
    assert.equal(await readFile(at(roots, "ptarget"), "utf8"), "tgt\n");
    assert.equal((await stat(at(roots, "p"))).uid, 4, "the destination folder itself is left as it was");
  }));

test("ADD: archives by content, symlinks to archives, gzip of a non-tar, --chmod ignored for archives", () =>
  scenario(async (roots) => {
    await symlink("gz.tgz", posix.join(roots.ctx, "arclink"));
    execFileSync("sh", ["-c", "gzip -c one.txt > one.gz"], { cwd: roots.ctx });
    await step(roots, ["arclink"], "/m9", { add: true });
    await step(roots, ["one.gz"], "/m10", { add: true });
    await step(roots, ["gz.tgz"], "/m11", { add: true, chmod: 0o700 });
    await step(roots, ["one.txt"], "/m14", { add: true }); // a non-archive is copied like COPY
    const size = (await stat(posix.join(roots.ctx, "one.gz"))).size;
    assert.deepEqual(await listTree(roots.rootfs, "/"), [
      "/etc dir 755 0:0", "/etc/passwd file 644 0:0 26",
      "/m10 file 644 0:0 " + size,
      "/m11 dir 755 0:0", "/m11/x file 600 1234:5678 2", "/m11/y dir 755 1234:5678", "/m11/y/z file 644 1234:5678 2",
      "/m14 file 644 0:0 2",
      "/m9 dir 755 0:0", "/m9/x file 600 1234:5678 2", "/m9/y dir 755 1234:5678", "/m9/y/z file 644 1234:5678 2",
    ]);
  }));

test("ADD: an archive entry replaces what is at its path; hardlinks and xattrs in the archive are kept", () =>
  scenario(async (roots) => {
    const xa = posix.join(roots.ctx, "xa");
    await mkdir(posix.join(xa, "d"), { recursive: true });
    await writeFile(posix.join(xa, "capf"), "cap\n");
    await writeFile(posix.join(xa, "dirslot"), "r\n");
    await setAttribute(posix.join(xa, "capf"), "user.foo", "bar");
    await setAttribute(posix.join(xa, "d"), "user.dir", "1");
    execFileSync("ln", [posix.join(xa, "capf"), posix.join(xa, "capf-hl")]);
    execFileSync("tar", ["--xattrs", "--xattrs-include=*", "--owner=1234", "--group=5678", "-C", xa, "-cf", posix.join(roots.ctx, "x.tar"), "."]);
    // RUN mkdir -p /q/dirslot/inner && echo i > /q/dirslot/inner/i
    await mkdir(at(roots, "q/dirslot/inner"), { recursive: true });
    await writeFile(at(roots, "q/dirslot/inner/i"), "i\n");
    await step(roots, ["x.tar"], "/q", { add: true });
    assert.deepEqual(await listTree(roots.rootfs, "/q"), [
      "/q/capf file 644 1234:5678 4", "/q/capf-hl file 644 1234:5678 4", "/q/d dir 755 1234:5678",
      "/q/dirslot file 644 1234:5678 2", // BuildKit's layer: q/dirslot is a file (the folder is gone)
    ]);
    assert.equal((await stat(at(roots, "q/capf"))).ino, (await stat(at(roots, "q/capf-hl"))).ino);
    assert.equal((await getAttribute(at(roots, "q/capf"), "user.foo"))?.toString(), "bar");
    assert.equal((await getAttribute(at(roots, "q/d"), "user.dir"))?.toString(), "1");
  }));

test("heredoc sources: 0644 0:0 unless --chmod/--chown; named by the heredoc word inside a folder", () =>
  scenario(async (roots) => {
    await step(roots, [], "/m12", { chown: { uid: 3, gid: 4 }, inline: [{ name: "EOF", content: "hi\n" }] });
    await step(roots, [], "/hd/", { inline: [{ name: "EOF", content: "x\n" }] });
    assert.deepEqual(await listTree(roots.rootfs, "/hd"), ["/hd/EOF file 644 0:0 2"]);
    assert.deepEqual((await listTree(roots.rootfs, "/")).filter((l) => l.startsWith("/m12")), ["/m12 file 644 3:4 3"]);
  }));

test("relative destinations are relative to the workdir; '.' is a folder", () =>
  scenario(async (roots) => {
    await step(roots, ["one.txt"], ".", { workdir: "/app" });
    await step(roots, ["two.txt"], "sub/t", { workdir: "/app" });
    assert.deepEqual(await listTree(roots.rootfs, "/app"), ["/app/one.txt file 644 0:0 2", "/app/sub dir 755 0:0", "/app/sub/t file 644 0:0 2"]);
  }));

test("ADD of a source tsbuild cannot fetch is refused with a clear message; http(s) and git are fetched", () => {
  for (const src of ["ftp://example.com/x.tar", "s3://bucket/x"]) {
    assert.throws(() => assertLocalSource(src, { file: "Dockerfile", line: 7 }), (e: unknown) => {
      assert.ok(e instanceof UserError);
      assert.match(e.message, /^Dockerfile:7: ADD \S+: only http\(s\) URLs and git repositories can be fetched/);
      return true;
    }, src);
  }
  assert.doesNotThrow(() => assertLocalSource("http://example.com/x.tar", { file: "Dockerfile", line: 7 }));
  assert.doesNotThrow(() => assertLocalSource("git://example.com/x.git", { file: "Dockerfile", line: 7 }));
  assert.doesNotThrow(() => assertLocalSource("local/x.tar", { file: "Dockerfile", line: 7 }));
});

test(".dockerignore exceptions: an ignored folder holding a re-included file exists with its own mode", () =>
  withRoots(["ctx", "rootfs"], async (r) => {
    const [ctx, rootfs] = [r.ctx as string, r.rootfs as string];
    await mkdir(posix.join(ctx, "dir/sub"), { recursive: true });
    await mkdir(posix.join(ctx, "dir/other"));
    await writeFile(posix.join(ctx, "dir/a.txt"), "a\n");
    await writeFile(posix.join(ctx, "dir/sub/s.txt"), "s\n");
    await writeFile(posix.join(ctx, "dir/other/o"), "o\n");
    await chmod(posix.join(ctx, "dir"), 0o750);
    await chmod(posix.join(ctx, "dir/sub"), 0o700);
    const bc = makeBuildContext(ctx, posix.join(ctx, "Dockerfile"), undefined, ["dir", "!dir/sub/s.txt"]);
    const copy = async (sources: string[], dest: string) =>
      copyIntoRootfs({
        sourceRoot: ctx, filter: bc.filter, mustDescend: (d) => bc.mustDescend(d), fromContext: true, add: false, place,
        sources: await matchSources(ctx, sources, bc.filter, place, "COPY", (d) => bc.mustDescend(d)),
        destRoot: rootfs, dest, workdir: "/",
      });
    await copy(["."], "/r/");
    await copy(["dir"], "/r2");
    await copy(["dir/sub"], "/r3");
    // BuildKit (COPY . /r/, COPY dir /r2, COPY dir/sub /r3 with .dockerignore "dir", "!dir/sub/s.txt"):
    assert.deepEqual(await listTree(rootfs), [
      "/r dir 755 0:0", "/r/dir dir 750 0:0", "/r/dir/sub dir 700 0:0", "/r/dir/sub/s.txt file 644 0:0 2",
      "/r2 dir 755 0:0", "/r2/sub dir 700 0:0", "/r2/sub/s.txt file 644 0:0 2",
      "/r3 dir 755 0:0", "/r3/s.txt file 644 0:0 2",
    ]);
  }));
