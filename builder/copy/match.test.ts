import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { posix } from "node:path";
import { ContextError, DockerfileError } from "../../common/errors.js";
import { cleanSourcePath, matchSources } from "./match.js";
import { contextFilter, makeContext, place, withRoots } from "./testkit.js";

async function withContext(fn: (ctx: string) => Promise<void>): Promise<void> {
  await withRoots(["ctx"], async (r) => {
    const ctx = r.ctx as string;
    await makeContext(ctx);
    await writeFile(posix.join(ctx, "a*b"), "star\n");
    await writeFile(posix.join(ctx, "axb"), "axb\n");
    await writeFile(posix.join(ctx, "a\\*b"), "backslash\n");
    await symlink("dir", posix.join(ctx, "dirlink"));
    await mkdir(posix.join(ctx, "deep/er"), { recursive: true });
    await writeFile(posix.join(ctx, "deep/er/f.txt"), "f\n");
    await fn(ctx);
  });
}

const match = (ctx: string, patterns: string[], instruction: "COPY" | "ADD" = "COPY") =>
  matchSources(ctx, patterns, contextFilter, place, instruction);

test("cleanSourcePath: leading / and ./ are nothing, .. cannot climb out (BuildKit: ../x means x)", () => {
  assert.equal(cleanSourcePath("/a/b"), "a/b");
  assert.equal(cleanSourcePath("./a/"), "a");
  assert.equal(cleanSourcePath("../../x"), "x");
  assert.equal(cleanSourcePath("a/../../b"), "b");
  assert.equal(cleanSourcePath("."), ".");
  assert.equal(cleanSourcePath("/"), ".");
});

test("literal sources, in order, a source named twice copied twice (BuildKit: the later copy overwrites)", () =>
  withContext(async (ctx) => {
    assert.deepEqual(await match(ctx, ["two.txt", "/one.txt", "./two.txt", "dir/"]), ["two.txt", "one.txt", "two.txt", "dir"]);
    assert.deepEqual(await match(ctx, ["one.txt", "on*.txt"]), ["one.txt", "one.txt"]);
    assert.deepEqual(await match(ctx, ["."]), ["."]);
    assert.deepEqual(await match(ctx, ["../one.txt"]), ["one.txt"]);
    assert.deepEqual(await match(ctx, ["dirlink/a.txt"]), ["dirlink/a.txt"]);
    // no wildcard: a backslash is part of the name (BuildKit's containsWildcards skips escaped characters)
    assert.deepEqual(await match(ctx, ["a\\*b"]), ["a\\*b"]);
  }));

test("wildcards per component, sorted, ignored files never match", () =>
  withContext(async (ctx) => {
    assert.deepEqual(await match(ctx, ["*.txt"]), ["file.txt", "one.txt", "two.txt", "wdir.txt"]);
    assert.deepEqual(await match(ctx, ["dir*"]), ["dir", "dirlink"]);
    assert.deepEqual(await match(ctx, ["dir/*/s*"]), ["dir/sub/s.txt"]); // s2.txt is ignored
    assert.deepEqual(await match(ctx, ["dirlink/*/s*"]), ["dirlink/sub/s.txt"]); // excluded through the link too
    assert.deepEqual(await match(ctx, ["*/er/?.txt"]), ["deep/er/f.txt"]);
    assert.deepEqual(await match(ctx, ["a[*]b"]), ["a*b"]);
    assert.deepEqual(await match(ctx, ["a\\*?"]), ["a*b"]);
    assert.deepEqual(await match(ctx, ["a?b"]), ["a*b", "axb"]);
    assert.deepEqual(await match(ctx, ["nomatch*"]), []); // BuildKit: no error, nothing copied
    assert.deepEqual(await match(ctx, ["ignored*"]), []);
  }));

test("a missing or ignored source fails with the Dockerfile line and the path", () =>
  withContext(async (ctx) => {
    const notFound = (name: string, instruction = "COPY", outside = "") => (e: unknown) => {
      assert.ok(e instanceof ContextError);
      const note = outside === "" ? "" : ` (${outside} points outside the build context; a source can only come from inside it, so it was read as ${name})`;
      assert.equal(
        e.message,
        `Dockerfile:3: ${instruction} failed: file not found in build context or excluded by .dockerignore: stat ${name}: file does not exist${note}`,
      );
      return true;
    };
    await assert.rejects(match(ctx, ["does-not-exist"]), notFound("does-not-exist"));
    await assert.rejects(match(ctx, ["ignored.txt"]), notFound("ignored.txt"));
    await assert.rejects(match(ctx, ["dirlink/sub/s2.txt"]), notFound("dirlink/sub/s2.txt"));
    await assert.rejects(match(ctx, ["../x"], "ADD"), notFound("x", "ADD", "../x"));
    await assert.rejects(match(ctx, ["one.txt/x"]), notFound("one.txt/x"));
  }));

test("a malformed pattern is a Dockerfile error", () =>
  withContext(async (ctx) => {
    await assert.rejects(match(ctx, ["[a-"]), (e: unknown) => e instanceof DockerfileError && /^Dockerfile:3: syntax error in pattern/.test(e.message));
  }));

test("symlinks in the source root cannot lead outside it", () =>
  withContext(async (ctx) => {
    await symlink("/etc", posix.join(ctx, "etclink"));
    await symlink("../../../../../../etc/passwd", posix.join(ctx, "uplink"));
    // both resolve inside the context, where there is no etc/passwd
    await assert.rejects(match(ctx, ["etclink/passwd"]), ContextError);
    await assert.rejects(match(ctx, ["uplink"]), ContextError);
    assert.deepEqual(await match(ctx, ["etclink/pass*"]), []);
  }));

test("a wildcard matching a symlink whose target is missing or ignored fails (BuildKit follows every match)", () =>
  withContext(async (ctx) => {
    await symlink("nowhere", posix.join(ctx, "out-dangling"));
    await symlink("ignored.txt", posix.join(ctx, "out-ignored"));
    await symlink("one.txt", posix.join(ctx, "out-one"));
    assert.deepEqual(await match(ctx, ["out-o*"]), ["out-one"]);
    await assert.rejects(match(ctx, ["out-*"]), (e: unknown) =>
      e instanceof ContextError && e.message === "Dockerfile:3: COPY failed: out-dangling (matched by out-*) is a symlink to /nowhere, which is not in the build context or is excluded by .dockerignore");
    await assert.rejects(match(ctx, ["out-i*"]), (e: unknown) => e instanceof ContextError && /out-ignored .* to \/ignored\.txt/.test(e.message));
    // a --from source (no .dockerignore) words it without the context
    await assert.rejects(matchSources(ctx, ["out-d*"], undefined, place, "COPY"), (e: unknown) => e instanceof ContextError && /which is not in the source$/.test(e.message));
  }));
