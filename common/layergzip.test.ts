// The layer gzip stores random-looking blocks and compresses the rest as zlib does: its output always
// gunzips to the input, equals createGzip()'s bytes when nothing is random, and does not depend on how
// the input was chunked.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { gunzipSync, gzipSync } from "node:zlib";
import { createLayerGzip, sampledEntropy } from "./layergzip.js";

const MIB = 1 << 20;

async function layerGzip(input: Buffer, chunk: number): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let i = 0; i < input.length; i += chunk) pieces.push(input.subarray(i, i + chunk));
  return buffer(Readable.from(pieces).pipe(createLayerGzip()));
}

function text(bytes: number): Buffer {
  const lines: string[] = [];
  let n = 0;
  while (n < bytes) {
    const line = `line ${lines.length}: the quick brown fox ${lines.length % 97} jumps over ${lines.length % 13}\n`;
    lines.push(line);
    n += line.length;
  }
  return Buffer.from(lines.join("")).subarray(0, bytes);
}

test("entropy: random bytes near 8 bits, text and zeros far below", () => {
  assert.ok(sampledEntropy(randomBytes(MIB)) > 7.99);
  assert.ok(sampledEntropy(text(MIB)) < 6);
  assert.equal(sampledEntropy(Buffer.alloc(MIB)), 0);
  assert.ok(sampledEntropy(gzipSync(randomBytes(3 * MIB).toString("base64"))) > 7.95, "gzip output of varied text looks random");
});

test("compressible input: the bytes zlib's createGzip makes, whatever the chunking", async () => {
  const input = text(3 * MIB + 12345);
  const expected = gzipSync(input);
  for (const chunk of [65536, MIB, 3 * MIB + 12345, 1000]) {
    assert.deepEqual(await layerGzip(input, chunk), expected, `chunks of ${chunk}`);
  }
});

test("random blocks are stored (no bigger than zlib's output by more than a few bytes per block), mixed input round-trips", async () => {
  const random = randomBytes(4 * MIB);
  const stored = await layerGzip(random, 65536);
  assert.deepEqual(gunzipSync(stored), random);
  assert.ok(stored.length <= gzipSync(random).length + 4 * 64, `${stored.length} against ${gzipSync(random).length}`);

  const mixed = Buffer.concat([text(MIB + 7), randomBytes(2 * MIB), text(2 * MIB), randomBytes(MIB / 2), text(100)]);
  const a = await layerGzip(mixed, 65536);
  const b = await layerGzip(mixed, 999_983);
  assert.deepEqual(a, b, "the output does not depend on the chunking");
  assert.deepEqual(gunzipSync(a), mixed);
  assert.ok(a.length < mixed.length * 0.7, "the text parts are still compressed");
});

test("an empty input is an empty gzip member", async () => {
  const out = await layerGzip(Buffer.alloc(0), 1);
  assert.deepEqual(gunzipSync(out), Buffer.alloc(0));
  assert.deepEqual(out, gzipSync(Buffer.alloc(0)));
});
