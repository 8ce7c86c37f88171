import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, readFileSync, mkdirSync, createReadStream } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { detectCompression, decompressStream, isTarArchive, findTool } from "./decompress.js";
import { ArchiveError, UserError } from "../common/errors.js";

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(parts);
}

function withDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), "decompress-test-"));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test("detectCompression reads the magic numbers", () => {
  assert.equal(detectCompression(gzipSync("x")), "gzip");
  assert.equal(detectCompression(Buffer.from("BZh91AY")), "bzip2");
  assert.equal(detectCompression(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1])), "xz");
  assert.equal(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0])), "zstd");
  assert.equal(detectCompression(Buffer.from("hello world")), "none");
  assert.equal(detectCompression(Buffer.from([0x1f])), "none");
});

test(
  "isTarArchive accepts real tar headers and rejects other data",
  withDir(async (dir) => {
    mkdirSync(join(dir, "in"));
    writeFileSync(join(dir, "in", "a"), "a\n");
    execFileSync("tar", ["-C", join(dir, "in"), "-cf", join(dir, "gnu.tar"), "."]);
    execFileSync("tar", ["--format=v7", "-C", join(dir, "in"), "-cf", join(dir, "v7.tar"), "a"]);
    assert.equal(isTarArchive(readFileSync(join(dir, "gnu.tar"))), true);
    assert.equal(isTarArchive(readFileSync(join(dir, "v7.tar"))), true);
    const corrupt = readFileSync(join(dir, "gnu.tar"));
    corrupt[0] = (corrupt[0] as number) ^ 0x55;
    assert.equal(isTarArchive(corrupt), false);
    assert.equal(isTarArchive(Buffer.alloc(1024)), false);
    assert.equal(isTarArchive(Buffer.from("not an archive".repeat(100))), false);
    assert.equal(isTarArchive(Buffer.alloc(100, 1)), false);
  }),
);

test(
  "decompressStream undoes gzip, bzip2, xz and zstd",
  withDir(async (dir) => {
    const data = Buffer.from("payload ".repeat(50000));
    writeFileSync(join(dir, "p"), data);
    assert.deepEqual(await collect(decompressStream("gzip", Readable.from([gzipSync(data)]))), data);
    for (const [kind, tool] of [["bzip2", "bzip2"], ["xz", "xz"], ["zstd", "zstd"]] as const) {
      assert.ok(findTool(tool), `${tool} is installed on this machine`);
      const packed = execFileSync(tool, ["-c", join(dir, "p")], { maxBuffer: 1 << 26 });
      assert.equal(detectCompression(packed), kind);
      writeFileSync(join(dir, "packed"), packed);
      const out = await collect(decompressStream(kind, createReadStream(join(dir, "packed"))));
      assert.deepEqual(out, data, kind);
    }
    assert.deepEqual(await collect(decompressStream("none", Readable.from([data]))), data);
  }),
);

test("corrupt input makes the stream fail with an ArchiveError", async () => {
  const bad = Buffer.concat([Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), Buffer.from("garbage".repeat(20))]);
  await assert.rejects(collect(decompressStream("xz", Readable.from([bad]), "bad.txz")), (e: unknown) => {
    assert.ok(e instanceof ArchiveError);
    assert.match(e.message, /^bad\.txz: xz -dc failed/);
    return true;
  });
  const badGz = Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), Buffer.from("garbage".repeat(20))]);
  await assert.rejects(collect(decompressStream("gzip", Readable.from([badGz]), "bad.gz")), ArchiveError);
});

test("stopping early stops the decompressor without an error", async () => {
  const data = Buffer.from("z".repeat(1 << 22));
  const packed = execFileSync("xz", ["-c"], { input: data, maxBuffer: 1 << 26 });
  const stream = decompressStream("xz", Readable.from([packed]));
  for await (const chunk of stream) {
    assert.ok((chunk as Buffer).length > 0);
    break; // leaving the loop destroys the stream
  }
  await new Promise((r) => setTimeout(r, 50));
});

test("a missing tool is a UserError that names it", () => {
  const saved = process.env.PATH;
  process.env.PATH = "/nonexistent";
  try {
    assert.throws(() => decompressStream("zstd", Readable.from([Buffer.alloc(1)]), "x.tzst"), (e: unknown) => {
      assert.ok(e instanceof UserError);
      assert.match(e.message, /x\.tzst: .*'zstd' program is not installed/);
      return true;
    });
  } finally {
    process.env.PATH = saved;
  }
});
