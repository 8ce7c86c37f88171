import { test } from "node:test";
import assert from "node:assert/strict";
import { chmod, chown, mkdir, mkdtemp, rename, rm, symlink, unlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ContextError } from "../common/errors.js";
import { makeContext } from "./context.js";
import { digestPaths, type InputsDigest } from "./filedigest.js";
import { FileDigestCache } from "./digestcache.js";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "tsbuild-fd-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function tree(dir: string): Promise<void> {
  await mkdir(join(dir, "src", "lib"), { recursive: true });
  await writeFile(join(dir, "src", "index.js"), "console.log(1)\n");
  await writeFile(join(dir, "src", "lib", "util.js"), "export {}\n");
  await writeFile(join(dir, "run.sh"), "#!/bin/sh\n");
  await chmod(join(dir, "run.sh"), 0o644);
  await symlink("index.js", join(dir, "src", "link"));
}

const all = (dir: string): Promise<InputsDigest> => digestPaths(dir, ["src", "run.sh"]);

test("digest is invariant to mtime, uid, gid and folder modes", async () => {
  await withDir(async (dir) => {
    await tree(dir);
    const before = await all(dir);
    await utimes(join(dir, "src", "index.js"), new Date("2001-01-01"), new Date("2001-01-01"));
    await utimes(join(dir, "src"), new Date("2002-01-01"), new Date("2002-01-01"));
    await chown(join(dir, "run.sh"), 1234, 567);
    await chown(join(dir, "src", "lib"), 42, 42);
    // BuildKit (dockerd 26) stays cached when only a folder's mode changes, nested or top-level.
    await chmod(join(dir, "src", "lib"), 0o700);
    await chmod(join(dir, "src"), 0o711);
    const after = await all(dir);
    assert.equal(after.digest, before.digest);
    assert.deepEqual(
      after.files.filter((f) => f.type !== "dir"),
      before.files.filter((f) => f.type !== "dir"),
    );
    // The listing still shows the folder modes (for explanations).
    assert.equal(after.files.find((f) => f.path === "src/lib")?.mode, 0o700);
  });
});

test("digest lists every path with type and mode", async () => {
  await withDir(async (dir) => {
    await tree(dir);
    const d = await all(dir);
    assert.deepEqual(
      d.files.map((f) => [f.path, f.type, f.mode]),
      [
        ["run.sh", "file", 0o644],
        ["src", "dir", 0o755],
        ["src/index.js", "file", 0o644],
        ["src/lib", "dir", 0o755],
        ["src/lib/util.js", "file", 0o644],
        ["src/link", "symlink", 0o777],
      ],
    );
    assert.match(d.digest, /^sha256:[a-f0-9]{64}$/);
  });
});

const changes: Array<[string, (dir: string) => Promise<void>]> = [
  ["content", (dir) => writeFile(join(dir, "src", "index.js"), "console.log(2)\n")],
  ["name", (dir) => rename(join(dir, "src", "lib", "util.js"), join(dir, "src", "lib", "utils.js"))],
  ["mode", (dir) => chmod(join(dir, "run.sh"), 0o755)],
  ["setuid bit", (dir) => chmod(join(dir, "run.sh"), 0o4644)],
  [
    "link target",
    async (dir) => {
      await unlink(join(dir, "src", "link"));
      await symlink("lib/util.js", join(dir, "src", "link"));
    },
  ],
  [
    "type",
    async (dir) => {
      await unlink(join(dir, "src", "link"));
      await writeFile(join(dir, "src", "link"), "index.js");
    },
  ],
  ["added file", (dir) => writeFile(join(dir, "src", "new.js"), "")],
  ["added empty folder", (dir) => mkdir(join(dir, "src", "empty"))],
  ["removed file", (dir) => unlink(join(dir, "src", "lib", "util.js"))],
];

for (const [what, change] of changes) {
  test(`digest changes with ${what}`, async () => {
    await withDir(async (dir) => {
      await tree(dir);
      const before = await all(dir);
      await change(dir);
      const after = await all(dir);
      assert.notEqual(after.digest, before.digest);
    });
  });
}

test("a moved file keeps its own digest (renames are recognisable)", async () => {
  await withDir(async (dir) => {
    await tree(dir);
    const before = await all(dir);
    await rename(join(dir, "src", "lib", "util.js"), join(dir, "src", "lib", "moved.js"));
    const after = await all(dir);
    const old = before.files.find((f) => f.path === "src/lib/util.js");
    const moved = after.files.find((f) => f.path === "src/lib/moved.js");
    assert.equal(moved?.digest, old?.digest);
  });
});

test("ignored files never matter; re-included files do", async () => {
  await withDir(async (dir) => {
    await tree(dir);
    await mkdir(join(dir, "src", "build", "deep"), { recursive: true });
    await writeFile(join(dir, "src", "build", "keep.txt"), "k");
    await writeFile(join(dir, "src", "build", "deep", "x.txt"), "x");
    await writeFile(join(dir, "src", "debug.log"), "1");
    await mkdir(join(dir, "src", "cache"));
    await writeFile(join(dir, "src", "cache", "blob"), "1");
    const ctx = makeContext(dir, join(dir, "Dockerfile"), undefined, [
      "**/*.log",
      "src/build",
      "!src/build/keep.txt",
      "src/cache",
    ]);
    const before = await digestPaths(dir, ["src"], ctx);
    const paths = before.files.map((f) => f.path);
    assert.ok(paths.includes("src/build"), "an ignored folder holding a re-included file is listed");
    assert.ok(paths.includes("src/build/keep.txt"));
    assert.ok(!paths.includes("src/build/deep"), "an ignored folder with nothing kept is absent");
    assert.ok(!paths.includes("src/debug.log"));
    assert.ok(!paths.includes("src/cache"));

    await writeFile(join(dir, "src", "debug.log"), "2");
    await writeFile(join(dir, "src", "other.log"), "new");
    await writeFile(join(dir, "src", "build", "deep", "x.txt"), "changed");
    await writeFile(join(dir, "src", "cache", "blob"), "2");
    assert.equal((await digestPaths(dir, ["src"], ctx)).digest, before.digest);
    // The same with a plain filter function (walks ignored folders, same answer).
    assert.equal((await digestPaths(dir, ["src"], ctx.filter)).digest, before.digest);

    await writeFile(join(dir, "src", "build", "keep.txt"), "changed");
    assert.notEqual((await digestPaths(dir, ["src"], ctx)).digest, before.digest);
  });
});

test("the context root can be digested as a whole", async () => {
  await withDir(async (dir) => {
    await tree(dir);
    const d = await digestPaths(dir, ["."]);
    assert.ok(d.files.some((f) => f.path === "" && f.type === "dir"));
    assert.equal((await digestPaths(dir, [""])).digest, d.digest);
    assert.equal((await digestPaths(dir, ["./"])).digest, d.digest);
  });
});

test("a top-level symlink brings in what it points to", async () => {
  await withDir(async (dir) => {
    await tree(dir);
    const before = await digestPaths(dir, ["src/link"]);
    assert.deepEqual(
      before.files.map((f) => f.path),
      ["src/index.js", "src/link"],
    );
    await writeFile(join(dir, "src", "index.js"), "changed");
    assert.notEqual((await digestPaths(dir, ["src/link"])).digest, before.digest);
  });
});

test("missing sources are ContextErrors naming the path; .. stays inside the root", async () => {
  await withDir(async (dir) => {
    await tree(dir);
    await assert.rejects(digestPaths(dir, ["src/nope.js"]), (e: unknown) => {
      assert.ok(e instanceof ContextError);
      assert.match(e.message, /src\/nope\.js: not found in build context/);
      return true;
    });
    await assert.rejects(digestPaths(dir, ["../etc/passwd"]), (e: unknown) => {
      assert.ok(e instanceof ContextError);
      assert.match(e.message, /not found in build context/); // clamped to the root: etc/passwd
      return true;
    });
    await writeFile(join(dir, "top.txt"), "t");
    const clamped = await digestPaths(dir, ["../../top.txt"]);
    assert.deepEqual(clamped.files.map((f) => f.path), ["top.txt"]);
  });
});

test("order of the given paths matters, their spelling does not", async () => {
  await withDir(async (dir) => {
    await tree(dir);
    const a = await digestPaths(dir, ["src", "run.sh"]);
    assert.equal((await digestPaths(dir, ["./src/", "/run.sh"])).digest, a.digest);
    assert.notEqual((await digestPaths(dir, ["run.sh", "src"])).digest, a.digest);
  });
});

test("a path through a symlink is read inside the root (an absolute link in a stage: /sub -> /out/sub)", async () => {
  await withDir(async (dir) => {
    await mkdir(join(dir, "out/sub"), { recursive: true });
    await writeFile(join(dir, "out/sub/foo"), "data");
    await symlink("/out/sub", join(dir, "sub"));
    await symlink("out/sub", join(dir, "sub2"));
    const real = await digestPaths(dir, ["out/sub/foo"]);
    for (const through of ["sub/foo", "/sub2/foo"]) {
      const d = await digestPaths(dir, [through]);
      assert.equal(d.digest, real.digest, through);
      assert.deepEqual(d.files.map((f) => f.path), ["out/sub/foo"]);
    }
  });
});
