// A layer written with members copied from the previous layer (files written exactly as before) is
// byte-for-byte the layer written from scratch, whatever the members look like.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setAttribute } from "../../common/xattr.js";
import { writeLayerTarToFile } from "./write.js";
import { writeLayerTar } from "./index.js";
import { indexPlainFiles } from "./donor.js";
import { createWriteStream } from "node:fs";
import { finished } from "node:stream/promises";

const LONG = `${"long-folder-name-".repeat(5)}/file-with-a-long-name-${"x".repeat(40)}.txt`;
const FILES = ["a.txt", "big.bin", "sub/b.txt", "sub/c.txt", "xattr.txt", LONG];

const WHEN = new Date("2024-05-06T07:08:09Z");

async function makeUpper(dir: string): Promise<void> {
  const when = WHEN;
  for (const f of FILES) {
    await mkdir(join(dir, f, ".."), { recursive: true });
    await writeFile(join(dir, f), f === "big.bin" ? Buffer.alloc(3 << 20, 7) : `${f}\n`);
    await utimes(join(dir, f), when, when);
  }
  await setAttribute(join(dir, "xattr.txt"), "user.note", "kept");
}

test("members copied from the previous layer give the same bytes as writing them anew", async () => {
  const base = await mkdtemp(join(tmpdir(), "tsbuild-donor-"));
  try {
    const before = join(base, "before");
    const after = join(base, "after");
    await makeUpper(before);
    const donorTar = join(base, "before.tar");
    await writeLayerTarToFile(before, donorTar);
    const offered = indexPlainFiles(donorTar);
    // members behind an extended header (xattrs, long name) are not offered
    assert.deepEqual([...offered.keys()].sort(), ["a.txt", "big.bin", "sub/b.txt", "sub/c.txt"]);

    // the next build: everything as before but sub/c.txt (changed), plus a new file
    await mkdir(join(after, "sub"), { recursive: true });
    for (const f of FILES) {
      await mkdir(join(after, f, ".."), { recursive: true });
      if (f === "sub/c.txt") continue;
      await copyFile(join(before, f), join(after, f));
      await utimes(join(after, f), WHEN, WHEN);
    }
    await setAttribute(join(after, "xattr.txt"), "user.note", "kept");
    await writeFile(join(after, "sub/c.txt"), "changed\n");
    await writeFile(join(after, "new.txt"), "new\n");
    const reused = new Set(FILES.filter((f) => f !== "sub/c.txt"));

    const spliced = join(base, "spliced.tar");
    const out = createWriteStream(spliced);
    await writeLayerTar(after, out, { donorTar, reused });
    await finished(out);
    const fresh = join(base, "fresh.tar");
    await writeLayerTarToFile(after, fresh);
    assert.ok((await readFile(fresh)).equals(await readFile(spliced)));
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});
