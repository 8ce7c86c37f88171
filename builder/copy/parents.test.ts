// COPY --parents and --exclude path logic: the pivot split, the walk's pruning, what matches below a
// base, what --exclude leaves out below each source (never the source itself), and the copy that keeps
// the parent folders. Expected values are BuildKit's (dockerfile2llb convert_copy.go, fsutil copy with
// IncludePatterns/ExcludePatterns) and the Dockerfile reference's examples.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmod, mkdir, symlink, writeFile } from "node:fs/promises";
import { posix } from "node:path";
import { DockerfileError } from "../../common/errors.js";
import { copyIntoRootfs } from "./copy.js";
import { below, excludedBelow, excludeMatcher, withExcludes } from "./exclude.js";
import { digestPaths } from "../../cache/filedigest.js";
import { matchBelow, matchParents, mayHoldMatch, parentsInputs, parentsPaths, splitParentsSource } from "./parents.js";
import { listTree, place, withRoots } from "./testkit.js";
import type { CopyRequest } from "./types.js";

test("splitParentsSource: cut at the first /./, the base is the root without one", () => {
  assert.deepEqual(splitParentsSource("foo1/foo2/bar"), { base: ".", pattern: "foo1/foo2/bar", required: true });
  assert.deepEqual(splitParentsSource("./x/./y/*.txt"), { base: "x", pattern: "y/*.txt", required: false });
  assert.deepEqual(splitParentsSource("/test/a/b/./c/d"), { base: "test/a/b", pattern: "c/d", required: true });
  // only the first pivot counts; a later one is cleaned away (testCopyRelativeParents "double")
  assert.deepEqual(splitParentsSource("/test/a/./b/./c"), { base: "test/a", pattern: "b/c", required: true });
  // a trailing /. is no pivot ("end"), nor is a leading ./ ("start")
  assert.deepEqual(splitParentsSource("/test/a/b/c/d/."), { base: ".", pattern: "test/a/b/c/d", required: true });
  assert.deepEqual(splitParentsSource("./test/a/b/c/d"), { base: ".", pattern: "test/a/b/c/d", required: true });
  assert.deepEqual(splitParentsSource("/test/a/b*/./c/**/e"), { base: "test/a/b*", pattern: "c/**/e", required: false });
  assert.deepEqual(splitParentsSource("x/./"), { base: "x", pattern: "", required: true });
});

test("mayHoldMatch: a folder is walked only while its names can still lead to a match", () => {
  const parts = "src/*/keep.txt".split("/");
  assert.equal(mayHoldMatch(parts, ["src"]), true);
  assert.equal(mayHoldMatch(parts, ["src", "a"]), true);
  assert.equal(mayHoldMatch(parts, ["lib"]), false);
  assert.equal(mayHoldMatch(parts, ["src", "a", "keep.txt"]), false); // as deep as the pattern: matched or not, nothing below
  assert.equal(mayHoldMatch("c/**/e".split("/"), ["c", "d", "x", "y"]), true);
  assert.equal(mayHoldMatch("c/**/e".split("/"), ["d"]), false);
});

async function tree(root: string): Promise<void> {
  for (const d of ["a/b/c/d/e", "a/b2/c/d/e", "a/b/c2/d/e", "a/b/c2/d/e2", "node_modules/x"]) await mkdir(posix.join(root, d), { recursive: true });
  for (const f of ["a/b/c/d/foo", "a/b/c/d/e/bay", "a/b2/c/d/e/bar", "a/b/c2/d/e/baz", "a/b/c2/d/e2/baz", "node_modules/x/i.js"]) {
    await writeFile(posix.join(root, f), `${f}\n`);
  }
}

test("matchBelow: the first match on each branch, sorted; ** across folders; nothing matching is no error", () =>
  withRoots(["src"], async ({ src }) => {
    const root = src as string;
    await tree(root);
    assert.deepEqual(await matchBelow(root, "a", "*/c", {}, place), ["b/c", "b2/c"]);
    assert.deepEqual(await matchBelow(root, "a/b", "c/**/e", {}, place), ["c/d/e"]);
    assert.deepEqual(await matchBelow(root, "a/b", "c*/d/**/baz", {}, place), ["c2/d/e/baz", "c2/d/e2/baz"]);
    assert.deepEqual(await matchBelow(root, ".", "a/b2*/c", {}, place), ["a/b2/c"]);
    assert.deepEqual(await matchBelow(root, "a/b", "c2*", {}, place), ["c2"]);
    assert.deepEqual(await matchBelow(root, "a/b", "nothing*", {}, place), []);
    assert.deepEqual(await matchBelow(root, "a", "", {}, place), []);
    // hidden entries (.dockerignore) are neither matched nor walked
    assert.deepEqual(await matchBelow(root, ".", "a/*/c", { filter: (rel) => rel !== "a/b2" }, place), ["a/b/c"]);
  }));

test("matchParents: bases' wildcards expanded, a source without wildcards must exist, --exclude below the base", () =>
  withRoots(["src"], async ({ src }) => {
    const root = src as string;
    await tree(root);
    const got = await matchParents(root, ["/a/b*/./c/**/e", "a/b/c/d/foo"], {}, undefined, place);
    assert.deepEqual(got, [
      { base: "a/b", isDir: true, matches: ["c/d/e"] },
      { base: "a/b2", isDir: true, matches: ["c/d/e"] },
      { base: ".", isDir: true, matches: ["a/b/c/d/foo"] },
    ]);
    assert.deepEqual(parentsPaths(got), ["a/b/c/d/e", "a/b2/c/d/e", "a/b/c/d/foo"]);
    // the inputs: each base walked, keeping the folders on the way to a match and what is below one
    const inputs = parentsInputs(got, { filter: (rel) => rel !== "a/b/c/d/e/bay" });
    assert.deepEqual(inputs.paths, ["a/b", "a/b2", "."]);
    const digest = await digestPaths(root, inputs.paths, inputs.visibility);
    assert.deepEqual(digest.files.map((f) => f.path).sort(), [
      "", "a", "a/b", "a/b/c", "a/b/c/d", "a/b/c/d/e", "a/b/c/d/foo", "a/b2", "a/b2/c", "a/b2/c/d", "a/b2/c/d/e", "a/b2/c/d/e/bar",
    ]);
    await assert.rejects(matchParents(root, ["/test/nonexistent-file"], {}, undefined, place), /test\/nonexistent-file/);
    assert.deepEqual(await matchParents(root, ["/nope*/./x"], {}, undefined, place), []);
    const ex = excludeMatcher(["b2"], place);
    assert.deepEqual((await matchParents(root, ["a/./*/c"], {}, ex, place)).map((p) => p.matches), [["b/c"]]);
  }));

test("excludes: relative to each source, never the source itself; a folder inherits its match; ! re-includes", () => {
  const m = excludeMatcher(["*.txt", "logs", "!logs/keep.log"], place);
  assert.ok(m !== undefined);
  assert.equal(below(".", "a.txt"), "a.txt");
  assert.equal(below("dir", "dir/a.txt"), "a.txt");
  assert.equal(below("dir", "dir"), undefined);
  assert.equal(below("dir", "dirx/a"), undefined);
  assert.equal(excludedBelow(m, ["dir"], "dir/a.txt"), true);
  assert.equal(excludedBelow(m, ["dir"], "dir/sub/a.txt"), false); // `*.txt` names the source's top level only (use **/*.txt)
  assert.equal(excludedBelow(m, ["dir"], "dir"), false); // the source itself
  assert.equal(excludedBelow(m, ["a.txt"], "a.txt"), false); // COPY --exclude=*.txt a.txt: still copied (moby/buildkit#5489)
  assert.equal(excludedBelow(m, ["dir"], "dir/logs/x.log"), true); // inherits its folder's match
  assert.equal(excludedBelow(m, ["dir"], "dir/logs/keep.log"), false);
  assert.equal(excludedBelow(m, ["dir", "dir/sub"], "dir/sub/a.txt"), false); // kept by the source dir/sub
  const v = withExcludes({ filter: (rel) => rel !== "dir/ignored" }, m, ["dir"]);
  assert.equal(v.filter("dir/ignored"), false);
  assert.equal(v.filter("dir/b.md"), true);
  assert.equal(v.mustDescend("dir/logs"), true); // a ! pattern may re-include something below
  assert.equal(excludeMatcher([], place), undefined);
  // BuildKit gives the patterns to patternmatcher as written: a leading / matches nothing (warned)
  const warned: string[] = [];
  const rooted = excludeMatcher(["/dir1", "./b.md"], place, (w) => warned.push(w));
  assert.equal(rooted?.ignores("dir1", []), false);
  assert.equal(rooted?.ignores("b.md", []), true);
  assert.deepEqual(warned, ["--exclude=/dir1 matches nothing, as in BuildKit: patterns are matched below each source, and its paths do not start with /; write dir1"]);
  assert.equal(excludeMatcher(["/x"], place), undefined);
  assert.throws(() => excludeMatcher(["[x"], place), (e: unknown) => e instanceof DockerfileError && /invalid --exclude pattern/.test(e.message));
});

const request = (ctx: string, rootfs: string, extra: Partial<CopyRequest>): CopyRequest => ({
  sourceRoot: ctx, fromContext: true, sources: [], destRoot: rootfs, dest: "/out/", workdir: "/", add: false, place, ...extra,
});

test("the copy keeps parent folders (their source modes), and --exclude leaves files out below each source", () =>
  withRoots(["ctx", "rootfs"], async ({ ctx, rootfs }) => {
    const c = ctx as string;
    const r = rootfs as string;
    await tree(c);
    await chmod(posix.join(c, "a/b"), 0o750);
    await writeFile(posix.join(c, "a/b/c/d/skip.log"), "x\n");
    await symlink("foo", posix.join(c, "a/b/c/d/lnk"));
    const exclude = excludeMatcher(["**/*.log"], place);
    const parents = await matchParents(c, ["a/./b/c/d"], {}, exclude, place);
    await copyIntoRootfs(request(c, r, { parents, ...(exclude ? { exclude } : {}) }));
    assert.deepEqual(await listTree(r), [
      "/out dir 755 0:0",
      "/out/b dir 750 0:0",
      "/out/b/c dir 755 0:0",
      "/out/b/c/d dir 755 0:0",
      "/out/b/c/d/e dir 755 0:0",
      "/out/b/c/d/e/bay file 644 0:0 14",
      "/out/b/c/d/foo file 644 0:0 12",
      "/out/b/c/d/lnk symlink 777 0:0 -> foo",
    ]);
    // a plain COPY with --exclude: the folder's contents minus what matches below it
    await copyIntoRootfs(request(c, r, { sources: ["a/b/c2"], dest: "/plain/", exclude: excludeMatcher(["d/e2"], place) as NonNullable<CopyRequest["exclude"]> }));
    assert.deepEqual(await listTree(r, "/plain"), [
      "/plain/d dir 755 0:0", "/plain/d/e dir 755 0:0", "/plain/d/e/baz file 644 0:0 15",
    ]);
  }));
