// ADD of an archive that tries to leave its destination through its own symlinks and hardlinks: every
// entry is resolved with the destination folder as root (BuildKit: `l -> ..` then `l/etc/myfile` is
// written as <dest>/etc/myfile), and nothing is written anywhere else in the rootfs or on the host.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createWriteStream } from "node:fs";
import { lstat, mkdir, readFile, writeFile } from "node:fs/promises";
import { posix } from "node:path";
import { TarWriter, type TarEntry } from "../../image/tar/index.js";
import { listTree, step, withRoots } from "./testkit.js";

type Member = { path: string; type: "file"; body: string } | { path: string; type: "dir" } | { path: string; type: "symlink" | "hardlink"; linkname: string };

async function writeTar(file: string, members: Member[]): Promise<void> {
  const out = createWriteStream(file);
  const w = new TarWriter(out);
  for (const m of members) {
    const base: TarEntry = { path: m.path, type: m.type, mode: m.type === "dir" ? 0o755 : 0o644, uid: 0, gid: 0, size: 0, mtime: 0 };
    if (m.type === "file") await w.add({ ...base, size: Buffer.byteLength(m.body) }, Buffer.from(m.body));
    else if (m.type === "dir") await w.add(base);
    else await w.add({ ...base, linkname: m.linkname });
  }
  await w.finish();
  await new Promise<void>((done, fail) => out.end(() => done()).on("error", fail));
}

test("ADD: an archive's symlinks and hardlinks are resolved inside the destination folder", async () => {
  await withRoots(["ctx", "rootfs", "host"], async (roots) => {
    // The image has /etc/passwd; the archive tries to replace it through links of its own.
    await mkdir(posix.join(roots.rootfs, "etc"));
    await writeFile(posix.join(roots.rootfs, "etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
    const hostFile = posix.join(roots.host, "secret");
    await writeFile(hostFile, "host\n");
    await writeTar(posix.join(roots.ctx, "evil.tar"), [
      { path: "l", type: "symlink", linkname: ".." },
      { path: "l/etc/myfile", type: "file", body: "via ..\n" },
      { path: "abs", type: "symlink", linkname: "/etc" },
      { path: "abs/passwd", type: "file", body: "via /etc\n" },
      { path: "deep", type: "symlink", linkname: "../../../../.." },
      { path: "deep/etc/passwd", type: "file", body: "via deep\n" },
      { path: "hostlink", type: "symlink", linkname: roots.host },
      { path: "hostlink/secret", type: "file", body: "overwritten\n" },
      { path: "hl", type: "hardlink", linkname: "abs/passwd" },
      { path: "hl2", type: "hardlink", linkname: "l/../../etc/passwd" },
      { path: "../../escape", type: "file", body: "dotdot\n" },
    ]);
    await step(roots, ["evil.tar"], "/d/", { add: true });

    assert.equal(await readFile(posix.join(roots.rootfs, "etc/passwd"), "utf8"), "root:x:0:0::/root:/bin/sh\n");
    assert.equal(await readFile(hostFile, "utf8"), "host\n");
    await assert.rejects(lstat(posix.join(roots.rootfs, "etc/myfile")), { code: "ENOENT" });
    await assert.rejects(lstat(posix.join(roots.rootfs, "escape")), { code: "ENOENT" });
    const inside = (p: string) => readFile(posix.join(roots.rootfs, "d", p), "utf8");
    assert.equal(await inside("etc/myfile"), "via ..\n");
    // abs/passwd, then deep/etc/passwd, both land on <dest>/etc/passwd: the later one wins.
    assert.equal(await inside("etc/passwd"), "via deep\n");
    assert.equal(await inside(posix.join(roots.host.slice(1), "secret")), "overwritten\n");
    assert.equal(await inside("escape"), "dotdot\n");
    const [hl, hl2, target] = await Promise.all(["hl", "hl2", "etc/passwd"].map((p) => lstat(posix.join(roots.rootfs, "d", p))));
    assert.equal(hl?.ino, target?.ino);
    assert.equal(hl2?.ino, target?.ino);
    const tree = await listTree(roots.rootfs, "/d");
    assert.ok(tree.includes("/d/l symlink 777 0:0 -> .."), tree.join("\n"));
    assert.ok(tree.includes("/d/abs symlink 777 0:0 -> /etc"), tree.join("\n"));
  });
});

// BuildKit's testDockerfileAddChownArchive (added with v0.23's fix, moby/buildkit 46e52f472; 0.13 kept
// the archive's owners): ADD --chown=100:200 t.tar /out/ gives out/foo and out/ the owner 100:200.
test("ADD --chown gives every entry of an archive its owner", async () => {
  await withRoots(["ctx", "rootfs"], async (roots) => {
    await writeTar(posix.join(roots.ctx, "t.tar"), [
      { path: "foo", type: "file", body: "content0" },
      { path: "sub", type: "dir" },
      { path: "sub/link", type: "symlink", linkname: "../foo" },
    ]);
    await step(roots, ["t.tar"], "/out/", { add: true, chown: { uid: 100, gid: 200 } });
    const tree = await listTree(roots.rootfs, "/out");
    for (const p of ["/out/foo", "/out/sub", "/out/sub/link"]) {
      assert.ok(tree.some((l) => l.startsWith(`${p} `) && l.includes(" 100:200")), `${p}: ${tree.join("\n")}`);
    }
    assert.equal((await lstat(posix.join(roots.rootfs, "out"))).uid, 100);
    assert.equal((await lstat(posix.join(roots.rootfs, "out"))).gid, 200);
  });
});
