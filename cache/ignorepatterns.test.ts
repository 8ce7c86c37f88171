// .dockerignore matching as BuildKit 0.13 does it (moby/patternmatcher v0.6.0 and fsutil's walk); every
// expectation here was checked with buildx 0.13 sending the context to the oracle's BuildKit 0.13
// (the cases dockerignore-exception-walk, dockerignore-regex-chars and dockerignore-excluded-folder
// record them). The oracle's docker 20.10 CLI differs where noted (testdata/oracle-differences.md).
import { test } from "node:test";
import assert from "node:assert/strict";
import { makeContext } from "./context.js";
import { cleanPath, IgnoreMatcher, IgnorePatternError, readIgnoreLines } from "./ignorepatterns.js";

const ctxOf = (patterns: string[]) => makeContext("/c", "/c/Dockerfile", undefined, patterns);

function assertIgnored(patterns: string[], ignored: string[], kept: string[]): void {
  const ctx = ctxOf(patterns);
  for (const p of ignored) assert.equal(ctx.isIgnored(p), true, `${p} should be ignored by ${patterns.join(" ")}`);
  for (const p of kept) assert.equal(ctx.isIgnored(p), false, `${p} should be kept by ${patterns.join(" ")}`);
}

test("a wildcard exception re-includes entries of an ignored folder, which is walked into", () => {
  // 20.10 CLI: never walks into b (no exception starts with `b/`), so b/c/f is lost
  assertIgnored(["**/b", "!**/c"], ["b", "b/d", "b/d/g", "x/b", "x/b/y"], ["b/c", "b/c/f", "x", "x/b/c", "x/b/c/h"]);
  const ctx = ctxOf(["**/b", "!**/c"]);
  assert.equal(ctx.mustDescend("b"), true);
  assert.equal(ctx.mustDescend("x/b"), true);
});

test("an entry inherits the patterns its folder matched: **/b hides b/other (patternmatcher's fix of **/foo)", () => {
  // 20.10 CLI: its Matches checked only one parent depth, so b/other and b/sub/f came through
  assertIgnored(["**/b", "!b/keep"], ["b/other", "b/sub", "b/sub/f", "x/b", "x/b/y"], ["b/keep", "top", "x"]);
  const ctx = ctxOf(["**/b", "!b/keep"]);
  assert.equal(ctx.mustDescend("b"), true, "an exception starting with b/ reaches into b");
  assert.equal(ctx.mustDescend("x/b"), false, "nothing can be re-included under x/b");
});

test("an exception naming a missing file keeps nothing of the folders on its way", () => {
  // 20.10 CLI: folder and folder/sub are sent as empty folders, and `COPY folder /x` succeeds
  const ctx = ctxOf(["**", "!folder/sub/file"]);
  for (const p of ["folder", "folder/sub", "folder/sub/g", "folder/other/f"]) assert.equal(ctx.isIgnored(p), true, p);
  assert.equal(ctx.mustDescend("folder"), true);
  assert.equal(ctx.mustDescend("folder/sub"), true);
  assert.equal(ctx.mustDescend("folder/other"), false);
  assert.equal(ctx.isIgnored("folder/sub/file"), false);
});

test("regexp characters are literal; **x matches any path ending in x; k/** with an exception below", () => {
  // 20.10 CLI: `c++` is a regexp syntax error and `a+b` matches aab
  assertIgnored(["c++", "x(1)", "p|q", "a+b", "a{b}", "**.tmp", "k/**", "!k/l/m"],
    ["c++", "x(1)", "p|q", "a+b", "a{b}", "b.tmp", "d/e.tmp", "k/n", "k/l/o", "k/l"], // k/l exists for k/l/m
    ["aab", "c", "d", "d/f", "k", "k/l/m"]);
});

test("? is one character, also outside the BMP", () => {
  assertIgnored(["a?b", "x\\*"], ["a😀b", "aéb", "x*"], ["a😀😀b", "ab", "xy"]);
});

test("last matching pattern decides, with what the folders matched", () => {
  assertIgnored(["a", "!a/b", "a/b/c"], ["a", "a/x", "a/b/c", "a/b/c/d"], ["a/b", "a/b/d"]);
  assertIgnored(["*.txt", "!a.txt"], ["b.txt"], ["a.txt", "sub/b.txt"]);
  assertIgnored(["docs/**", "!docs/keep/**"], ["docs/a", "docs/keep"], ["docs", "docs/keep/x", "docs/keep/y/z"]);
});

test("ReadAll: # starts a comment only in the first column; BOM, blanks, leading / and ./ go; ! is trimmed", () => {
  assert.deepEqual(readIgnoreLines("\uFEFF# c\n # not a comment\n\n  /a/b/  \r\n! ./c\n!\n../up\n"),
    ["# not a comment", "a/b", "!c", "!", "../up"]);
  assert.equal(cleanPath("a//b/./c/.."), "a/b");
  assert.equal(cleanPath("../../x"), "../../x");
  assert.equal(cleanPath("/../x"), "/x");
});

test("malformed patterns are refused as BuildKit refuses them", () => {
  assert.throws(() => new IgnoreMatcher(["[a-"]), IgnorePatternError);
  assert.throws(() => new IgnoreMatcher(["a\\"]), IgnorePatternError);
  assert.throws(() => new IgnoreMatcher(["!"]), /illegal exclusion pattern: "!"/);
  assert.doesNotThrow(() => new IgnoreMatcher(["[a-c]*", "\\*", "[^x]"]));
});

test("without exceptions no ignored folder is walked into; unrelated literal exceptions do not open it", () => {
  assert.equal(ctxOf(["node_modules"]).mustDescend("node_modules"), false);
  assert.equal(ctxOf(["node_modules", "!keep.log"]).mustDescend("node_modules"), false);
  assert.equal(ctxOf(["node_modules", "!node_modules/keep"]).mustDescend("node_modules"), true);
  assert.equal(ctxOf(["src"]).mustDescend("lib"), true, "a kept folder is always walked");
});
