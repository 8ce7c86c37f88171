// File names that are not UTF-8: BuildKit copies their raw bytes; tsbuild refuses them by name (testdata/
// oracle-differences.md), never with a raw ENOENT, and skips them when .dockerignore excludes them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { posix } from "node:path";
import { ContextError } from "../../common/errors.js";
import { copyIntoRootfs } from "./copy.js";
import { matchSources } from "./match.js";
import { showRawName } from "./names.js";
import { listTree, place, withRoots } from "./testkit.js";

const latin1Name = Buffer.from([0x63, 0x61, 0x66, 0xe9]); // "café" in Latin-1

function rawPath(dir: string, raw: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${dir}/`), raw]);
}

test("showRawName: bad bytes as \\xNN, valid sequences as they are", () => {
  assert.equal(showRawName(latin1Name), "caf\\xe9");
  assert.equal(showRawName(Buffer.from([0x6e, 0xff, 0xfe, 0x6f])), "n\\xff\\xfeo");
  assert.equal(showRawName(Buffer.from("é€", "utf8")), "é€");
});

test("COPY of a folder or a wildcard reaching a non-UTF-8 name fails naming it; excluded, it is skipped", async () => {
  await withRoots(["ctx", "rootfs"], async (r) => {
    const ctx = r.ctx as string;
    mkdirSync(posix.join(ctx, "sub"));
    writeFileSync(posix.join(ctx, "sub", "ok.txt"), "ok\n");
    writeFileSync(rawPath(posix.join(ctx, "sub"), latin1Name), "x\n");
    const copy = (filter?: (rel: string) => boolean) =>
      copyIntoRootfs({ sourceRoot: ctx, ...(filter ? { filter } : {}), fromContext: true, sources: ["sub"], destRoot: r.rootfs as string, dest: "/d/", workdir: "/", add: false, place });
    const named = (e: unknown): boolean => e instanceof ContextError &&
      e.message === "Dockerfile:3: cannot copy sub/caf\\xe9 from the build context: its file name is not valid UTF-8, which tsbuild does not support: rename it, or exclude it in .dockerignore";
    await assert.rejects(copy(), named);
    await assert.rejects(matchSources(ctx, ["sub/caf*"], () => true, place, "COPY"), (e: unknown) => e instanceof ContextError && /sub\/caf\\xe9/.test(e.message));
    await copy((rel) => !rel.startsWith("sub/caf"));
    assert.deepEqual(await listTree(r.rootfs as string, "/d"), ["/d/ok.txt file 644 0:0 3"]);
    assert.deepEqual(await matchSources(ctx, ["sub/*"], (rel) => !rel.startsWith("sub/caf"), place, "COPY"), ["sub/ok.txt"]);
  });
});
