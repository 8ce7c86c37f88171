// The test summariser itself: a hand-made docker-archive (GNU tar layers with whiteouts, an opaque
// folder, a hardlink, a fifo, a long name, a PAX header, a gzip layer) summarised as imgtree.py would.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink, writeFile, link } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { compareSummaries, normName, summarizeArchive } from "./imgtree.js";

const sha = (s: string): string => execFileSync("sha256sum", { input: s, encoding: "utf8" }).split(" ")[0]!;

test("normName keeps imgtree.py's quirks", () => {
  assert.equal(normName("./"), "/");
  assert.equal(normName("./etc/passwd"), "/etc/passwd");
  assert.equal(normName("usr/bin/"), "/usr/bin");
  assert.equal(normName("a//b/./c"), "/a/b/c");
  assert.equal(normName(".wh.top"), "/wh.top"); // Python's lstrip("./") eats the leading dot too
});

test("summarizeArchive applies layers, whiteouts and opaque folders", async () => {
  const dir = await mkdtemp(join(tmpdir(), "imgtree-test-"));
  try {
    const l1 = join(dir, "l1");
    const l2 = join(dir, "l2");
    const longDir = "d".repeat(60) + "/" + "e".repeat(60);
    await mkdir(join(l1, "data/gone"), { recursive: true });
    await mkdir(join(l1, "data/opq"), { recursive: true });
    await mkdir(join(l1, longDir), { recursive: true });
    await writeFile(join(l1, "data/gone/x"), "x");
    await writeFile(join(l1, "data/opq/old"), "old");
    await writeFile(join(l1, "data/file"), "one\n");
    await writeFile(join(l1, longDir, "long.txt"), "long");
    await link(join(l1, "data/file"), join(l1, "data/hard"));
    await symlink("file", join(l1, "data/sym"));
    execFileSync("mkfifo", ["-m", "600", join(l1, "data/fifo")]);
    await mkdir(join(l2, "data/opq"), { recursive: true });
    await writeFile(join(l2, "data/.wh.gone"), "");
    await writeFile(join(l2, "data/opq/.wh..wh..opq"), "");
    await writeFile(join(l2, "data/opq/new"), "new");
    const tarOpts = ["--sort=name", "--mtime=@0", "--numeric-owner"];
    execFileSync("tar", ["--format=gnu", ...tarOpts, "--owner=0", "--group=0", "-C", l1, "-cf", join(dir, "l1.tar"), "."]);
    execFileSync("sh", ["-c", `tar --format=pax ${tarOpts.join(" ")} --owner=7 --group=8 -C ${l2} -cf - . | gzip -n > ${dir}/l2.tar.gz`]);
    await writeFile(join(dir, "config.json"), JSON.stringify({
      os: "linux", architecture: "amd64", rootfs: { type: "layers", diff_ids: ["a", "b"] },
      config: { Cmd: ["sh"], Env: [], Labels: {}, User: "7" },
      history: [{ created_by: "COPY a /a # buildkit" }, { created_by: "CMD [\"sh\"]", empty_layer: true }, {}],
    }));
    await writeFile(join(dir, "manifest.json"), JSON.stringify([{ Config: "config.json", Layers: ["l1.tar", "l2.tar.gz"] }]));
    execFileSync("tar", ["-C", dir, "-cf", join(dir, "image.tar"), "manifest.json", "config.json", "l1.tar", "l2.tar.gz"]);

    const s = await summarizeArchive(join(dir, "image.tar"));
    assert.equal(s.layers, 2);
    assert.equal(s.diff_ids, 2);
    assert.deepEqual(s.config, { Cmd: ["sh"], User: "7" }, "empty Env and Labels are dropped");
    assert.deepEqual(s.history, [
      { created_by: "COPY a /a # buildkit", empty_layer: false },
      { created_by: "CMD [\"sh\"]", empty_layer: true },
      { created_by: "", empty_layer: false },
    ]);
    const f = s.files;
    assert.equal(f["/data/gone"], undefined, "whiteout removes the folder");
    assert.equal(f["/data/gone/x"], undefined, "and what was under it");
    assert.equal(f["/data/opq/old"], undefined, "opaque folder hides the lower layer's files");
    assert.deepEqual(f["/data/opq/new"], { mode: "0o644", uid: 7, gid: 8, type: "file", size: 3, sha256: sha("new") });
    assert.deepEqual(f["/data/file"], { mode: "0o644", uid: 0, gid: 0, type: "file", size: 4, sha256: sha("one\n") });
    assert.deepEqual(f["/data/hard"], f["/data/file"], "a hardlink summarises as its target");
    assert.deepEqual(f["/data/sym"], { mode: "0o777", uid: 0, gid: 0, type: "symlink", link: "file" });
    assert.deepEqual(f["/data/fifo"], { mode: "0o600", uid: 0, gid: 0, type: "fifo" });
    assert.equal(f[`/${longDir}/long.txt`]?.sha256, sha("long"), "GNU long names");
    assert.equal(f["/data"]?.uid, 7, "a folder in an upper layer updates the lower one");
    assert.equal(Object.keys(f).some((k) => k.includes(".wh.")), false);

    const expected = structuredClone(s);
    assert.deepEqual(compareSummaries(expected, s), []);
    expected.files["/data/file"] = { ...expected.files["/data/file"]!, mode: "0o600" };
    expected.config.User = "8";
    expected.history[1] = { created_by: "CMD [\"/bin/sh\"]", empty_layer: true };
    const diffs = compareSummaries(expected, s);
    assert.equal(diffs.length, 3);
    assert.match(diffs[0]!, /^history\[1\]: buildkit=.*tsbuild=/);
    assert.match(diffs[1]!, /^config\.User: buildkit="8" tsbuild="7"$/);
    assert.match(diffs[2]!, /^file \/data\/file: /);
    const { history: _unrecorded, ...older } = expected;
    assert.equal(compareSummaries(older, s).length, 2, "a recording without history compares no history");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
