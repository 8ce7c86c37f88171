import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ContextError } from "../common/errors.js";
import { makeContext, openContext, parseIgnoreText } from "./context.js";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "tsbuild-ctx-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// The .dockerignore of an experiment against BuildKit (dockerd 26); `kept` is what
// `COPY . /ctx/` put into the image, `ignored` what it left out.
const ORACLE_PATTERNS = [
  "*.log",
  "!keep.log",
  "build",
  "!build/keep.txt",
  "**/*.tmp",
  "/abs.txt",
  "docs/**/secret*",
  "./dotslash.txt",
  "Dockerfile",
  ".dockerignore",
  "CASE.TXT",
  "sub/*",
  "!sub/inc*",
];
const ORACLE_KEPT = [
  "build/keep.txt",
  "case.txt",
  "deep/q",
  "docs/a/b",
  "keep.log",
  "main.txt",
  "other.txt",
  "sub",
  "sub/include",
  "df/my.Dockerfile",
];
const ORACLE_IGNORED = [
  "a.log",
  "build/x.txt",
  "build/deep/y.txt",
  "x.tmp",
  "deep/q/r.tmp",
  "abs.txt",
  "docs/a/b/secret1",
  "docs/secret2",
  "dotslash.txt",
  "Dockerfile",
  ".dockerignore",
  "sub/one",
];

test("dockerignore matching agrees with BuildKit", () => {
  const ctx = makeContext("/c", "/c/Dockerfile", undefined, ORACLE_PATTERNS);
  for (const p of ORACLE_KEPT) assert.equal(ctx.isIgnored(p), false, `${p} should be kept`);
  for (const p of ORACLE_IGNORED) assert.equal(ctx.isIgnored(p), true, `${p} should be ignored`);
  for (const p of ORACLE_KEPT) assert.equal(ctx.filter(p), true, p);
  for (const p of ORACLE_IGNORED) assert.equal(ctx.filter(p), false, p);
});

test("an abs pattern matches only at the root; sub/abs.txt stays", () => {
  const ctx = makeContext("/c", "/c/Dockerfile", undefined, ["/abs.txt"]);
  assert.equal(ctx.isIgnored("abs.txt"), true);
  assert.equal(ctx.isIgnored("sub/abs.txt"), false);
});

test("an ignored folder hides everything under it; an exception re-includes one file", () => {
  const ctx = makeContext("/c", "/c/Dockerfile", undefined, ["build", "!build/keep.txt"]);
  assert.equal(ctx.isIgnored("build"), true);
  assert.equal(ctx.isIgnored("build/a/b/c"), true);
  assert.equal(ctx.isIgnored("build/keep.txt"), false);
  assert.equal(ctx.hasExceptions, true);
  assert.equal(ctx.mustDescend("build"), true);
  const plain = makeContext("/c", "/c/Dockerfile", undefined, ["build"]);
  assert.equal(plain.mustDescend("build"), false);
  assert.equal(plain.mustDescend("src"), true);
});

test("a walk descends into an ignored folder only where an exception may reach", () => {
  const ctx = makeContext("/c", "/c/Dockerfile", undefined, [
    "node_modules",
    "build",
    "sub/*",
    "!keep.log",
    "!build/keep.txt",
    "!sub/inc*",
  ]);
  assert.equal(ctx.mustDescend("node_modules"), false);
  assert.equal(ctx.mustDescend("build"), true);
  assert.equal(ctx.mustDescend("sub/include"), true);
  assert.equal(ctx.mustDescend("sub/one"), false);
  assert.equal(ctx.isIgnored("sub/include/x"), false); // re-included through its parent
  const wild = makeContext("/c", "/c/Dockerfile", undefined, ["node_modules", "!**/keep"]);
  assert.equal(wild.mustDescend("node_modules"), true);
});

test("last matching pattern wins", () => {
  const ctx = makeContext("/c", "/c/Dockerfile", undefined, ["!a.txt", "*.txt"]);
  assert.equal(ctx.isIgnored("a.txt"), true);
  const ctx2 = makeContext("/c", "/c/Dockerfile", undefined, ["*.txt", "!a.txt"]);
  assert.equal(ctx2.isIgnored("a.txt"), false);
});

test("** matches any depth, including none", () => {
  const ctx = makeContext("/c", "/c/Dockerfile", undefined, ["**/node_modules", "a/**/z"]);
  assert.equal(ctx.isIgnored("node_modules"), true);
  assert.equal(ctx.isIgnored("x/y/node_modules/pkg/index.js"), true);
  assert.equal(ctx.isIgnored("a/z"), true);
  assert.equal(ctx.isIgnored("a/b/c/z"), true);
  assert.equal(ctx.isIgnored("b/z"), false);
});

test("paths are normalized; the root is never ignored", () => {
  const ctx = makeContext("/c", "/c/Dockerfile", undefined, ["*", "!keep"]);
  assert.equal(ctx.isIgnored(""), false);
  assert.equal(ctx.isIgnored("."), false);
  assert.equal(ctx.isIgnored("./x"), true);
  assert.equal(ctx.isIgnored("/x"), true);
  assert.equal(ctx.isIgnored("keep/"), false);
});

test("parseIgnoreText drops comments and blank lines", () => {
  assert.deepEqual(parseIgnoreText("# c\n\n  a  \r\n!b\n"), ["a", "!b"]);
});

test("openContext reads .dockerignore at the context root", async () => {
  await withDir(async (dir) => {
    await writeFile(join(dir, ".dockerignore"), "# comment\n*.log\n");
    await writeFile(join(dir, "Dockerfile"), "FROM scratch\n");
    const ctx = await openContext(dir, join(dir, "Dockerfile"));
    assert.equal(ctx.ignoreFile, join(dir, ".dockerignore"));
    assert.deepEqual(ctx.patterns, ["*.log"]);
    assert.equal(ctx.isIgnored("x.log"), true);
    assert.equal(ctx.isIgnored("x.txt"), false);
    assert.equal(ctx.dir, dir);
  });
});

test("a Dockerfile-specific ignore file wins and is not combined with .dockerignore", async () => {
  // BuildKit: with -f df/my.Dockerfile, df/my.Dockerfile.dockerignore (main.txt) applied alone.
  await withDir(async (dir) => {
    await mkdir(join(dir, "df"));
    await writeFile(join(dir, ".dockerignore"), "other.txt\n");
    await writeFile(join(dir, "df", "my.Dockerfile"), "FROM scratch\n");
    await writeFile(join(dir, "df", "my.Dockerfile.dockerignore"), "main.txt\n");
    const ctx = await openContext(dir, join(dir, "df", "my.Dockerfile"));
    assert.equal(ctx.ignoreFile, join(dir, "df", "my.Dockerfile.dockerignore"));
    assert.equal(ctx.isIgnored("main.txt"), true);
    assert.equal(ctx.isIgnored("other.txt"), false);
  });
});

test("no ignore file: nothing is ignored", async () => {
  await withDir(async (dir) => {
    const ctx = await openContext(dir, join(dir, "Dockerfile"));
    assert.equal(ctx.ignoreFile, undefined);
    assert.equal(ctx.isIgnored("anything"), false);
    assert.equal(ctx.hasExceptions, false);
  });
});

test("a missing context folder is a ContextError naming it", async () => {
  await withDir(async (dir) => {
    const missing = join(dir, "nope");
    await assert.rejects(openContext(missing, join(missing, "Dockerfile")), (e: unknown) => {
      assert.ok(e instanceof ContextError);
      assert.match(e.message, /nope/);
      return true;
    });
    await writeFile(join(dir, "file"), "x");
    await assert.rejects(openContext(join(dir, "file"), "Dockerfile"), (e: unknown) => {
      assert.ok(e instanceof ContextError);
      assert.match(e.message, /not a folder/);
      return true;
    });
  });
});
