// COPY reusing the previous build's copy (CopyRequest.reuse): unchanged files are written straight into
// the upper dir (own inodes), everything else is copied as usual, and the result is a full copy's tree.
import { test } from "node:test";
import assert from "node:assert/strict";
import { appendFile, chmod, lstat, mkdir, readFile, utimes, writeFile } from "node:fs/promises";
import { listAttributesSync, setAttributeSync } from "../../common/xattr.js";
import { posix } from "node:path";
import { digestPaths } from "../../cache/filedigest.js";
import { copyIntoRootfs } from "./copy.js";
import { unchangedInputs } from "./reuse.js";
import { listTree, place, withRoots } from "./testkit.js";
import type { CopyRequest } from "./types.js";

async function makeTree(ctx: string): Promise<void> {
  for (const d of ["a", "a/deep", "b"]) await mkdir(posix.join(ctx, d), { recursive: true });
  for (const f of ["a/1.txt", "a/2.txt", "a/deep/3.txt", "b/4.txt", "top.txt"]) await writeFile(posix.join(ctx, f), `${f}\n`);
  await chmod(posix.join(ctx, "a/2.txt"), 0o600);
  const old = new Date("2024-01-02T03:04:05.678Z");
  for (const d of ["a/deep", "a", "b"]) await utimes(posix.join(ctx, d), old, old);
}

function request(ctx: string, rootfs: string, reuse?: CopyRequest["reuse"]): CopyRequest {
  return {
    sourceRoot: ctx, fromContext: true, sources: ["."], destRoot: rootfs, dest: "/app", workdir: "/", place, add: false,
    ...(reuse ? { reuse } : {}),
  };
}

/** Path, type, mode, owner, size and mtime (s) of every entry below /app except /app itself. */
async function snapshotOf(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const line of await listTree(root, "/app")) {
    const path = line.split(" ")[0] as string;
    const st = await lstat(posix.join(root, path));
    out.push(`${line} ${Math.floor(st.mtimeMs / 1000)}`);
  }
  return out;
}

test("unchanged files are reused, changed ones copied as usual; the tree is a full copy's", () =>
  withRoots(["ctx", "before", "after", "full"], async (r) => {
    const { ctx, before, after, full } = r as Record<"ctx" | "before" | "after" | "full", string>;
    await makeTree(ctx);
    const inputsBefore = await digestPaths(ctx, ["."]);
    await copyIntoRootfs(request(ctx, before));

    await writeFile(posix.join(ctx, "a/1.txt"), "edited\n"); // changed content
    await chmod(posix.join(ctx, "b/4.txt"), 0o755); // changed mode
    const inputsAfter = await digestPaths(ctx, ["."]);
    const unchanged = unchangedInputs(inputsBefore, inputsAfter);
    assert.deepEqual([...unchanged].sort(), ["a/2.txt", "a/deep/3.txt", "top.txt"]);

    const reused = new Set<string>();
    await copyIntoRootfs(request(ctx, after, { upper: after, donor: before, unchanged, reused }));
    assert.deepEqual([...reused].sort(), ["app/a/2.txt", "app/a/deep/3.txt", "app/top.txt"]);
    await copyIntoRootfs(request(ctx, full));
    assert.deepEqual(await snapshotOf(after), await snapshotOf(full));
    assert.equal(await readFile(posix.join(after, "app/a/1.txt"), "utf8"), "edited\n");

    // every file is its own inode, as BuildKit's copies are (a later RUN sees st_nlink 1)
    for (const p of ["a/1.txt", "a/2.txt", "a/deep/3.txt", "b/4.txt", "top.txt"]) {
      const [a, b] = [await lstat(posix.join(after, "app", p)), await lstat(posix.join(before, "app", p))];
      assert.notEqual(a.ino, b.ino, p);
      assert.equal(a.nlink, 1, p);
    }
    // the folders that received links keep the times the copy gave them
    assert.equal((await lstat(posix.join(after, "app/a"))).mtimeMs, (await lstat(posix.join(ctx, "a"))).mtimeMs);
  }));

test("a previous copy whose metadata differs is not reused", () =>
  withRoots(["ctx", "before", "after"], async (r) => {
    const { ctx, before, after } = r as Record<"ctx" | "before" | "after", string>;
    await makeTree(ctx);
    const inputs = await digestPaths(ctx, ["."]);
    await copyIntoRootfs(request(ctx, before));
    // Not what this copy would make: a mode, an extended attribute, an mtime, a size.
    await chmod(posix.join(before, "app/top.txt"), 0o640);
    setAttributeSync(posix.join(before, "app/a/1.txt"), "user.note", "donor only");
    await utimes(posix.join(before, "app/b/4.txt"), new Date(1_000_000), new Date(2_000_000));
    await appendFile(posix.join(before, "app/a/deep/3.txt"), "longer");
    const reused = new Set<string>();
    await copyIntoRootfs(request(ctx, after, { upper: after, donor: before, unchanged: unchangedInputs(inputs, inputs), reused }));
    assert.equal((await lstat(posix.join(after, "app/top.txt"))).mode & 0o7777, 0o644);
    assert.deepEqual(listAttributesSync(posix.join(after, "app/a/1.txt")), []);
    // the copy gives the source mtime to the millisecond (as the normal path does), not the donor's:
    // Node's Stats date, which rounds the source's mtime to the nearest ms (and writing it back is ±1 ns)
    assert.equal(Math.round((await lstat(posix.join(after, "app/b/4.txt"))).mtimeMs), (await lstat(posix.join(ctx, "b/4.txt"))).mtime.getTime());
    assert.equal(await readFile(posix.join(after, "app/a/deep/3.txt"), "utf8"), await readFile(posix.join(ctx, "a/deep/3.txt"), "utf8"));
    for (const p of ["app/top.txt", "app/a/1.txt", "app/b/4.txt", "app/a/deep/3.txt"]) assert.ok(!reused.has(p), p);
    assert.ok(reused.has("app/a/2.txt"));
  }));

test("with several sources nothing is reused (a later source may replace an earlier one's file)", () =>
  withRoots(["ctx", "before", "after"], async (r) => {
    const { ctx, before, after } = r as Record<"ctx" | "before" | "after", string>;
    await mkdir(posix.join(ctx, "a"));
    await mkdir(posix.join(ctx, "b"));
    await writeFile(posix.join(ctx, "a/same.txt"), "from a\n");
    await writeFile(posix.join(ctx, "b/same.txt"), "from b\n");
    const two = (rootfs: string, reuse?: CopyRequest["reuse"]): CopyRequest => ({ ...request(ctx, rootfs, reuse), sources: ["a", "b"] });
    await copyIntoRootfs(two(before));
    const reused = new Set<string>();
    await copyIntoRootfs(two(after, { upper: after, donor: before, unchanged: new Set(["a/same.txt", "b/same.txt"]), reused }));
    assert.equal(reused.size, 0);
    assert.equal(await readFile(posix.join(after, "app/same.txt"), "utf8"), "from b\n");
  }));
