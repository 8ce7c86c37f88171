import { test } from "node:test";
import assert from "node:assert/strict";
import { Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import { LayerLimitCheck, layerLimits } from "./layerlimits.js";

/** Gzipped zeros through the check; the compressed bytes counted as they are read. */
async function expand(zeros: number, limits: ReturnType<typeof layerLimits>): Promise<void> {
  let packed = 0;
  const gzipped: Buffer[] = [];
  await pipeline(Readable.from([Buffer.alloc(zeros)]), createGzip(), new Writable({ write: (c: Buffer, _e, cb) => void (gzipped.push(c), cb()) }));
  const count = new Transform({ transform: (c: Buffer, _e, cb) => void ((packed += c.length), cb(null, c)) });
  await pipeline(Readable.from(gzipped), count, createGunzip(), new LayerLimitCheck("layer sha256:x", () => packed, limits), new Writable({ write: (_c, _e, cb) => cb() }));
}

test("a layer past the size limit or the expansion ratio fails, naming the layer and how to raise the limit", async () => {
  await expand(4 << 20, { maxBytes: 8 << 20, maxRatio: 2000, ratioFrom: 1 << 20 }); // within both
  await assert.rejects(expand(4 << 20, { maxBytes: 2 << 20, maxRatio: 2000, ratioFrom: 1 << 20 }),
    /^ArchiveError: layer sha256:x: expands past 2 MiB, the most a layer may \(TSBUILD_MAX_LAYER_SIZE raises it\)$/);
  await assert.rejects(expand(4 << 20, { maxBytes: 8 << 20, maxRatio: 100, ratioFrom: 1 << 20 }),
    /^ArchiveError: layer sha256:x: [\d.]+ KiB compressed expand past [\d.]+ MiB, more than 100 times \(a decompression bomb\? TSBUILD_MAX_LAYER_RATIO raises the limit\)$/);
});

test("limits: defaults far above real layers, raised from the environment", () => {
  assert.deepEqual(layerLimits({}), { maxBytes: 64 * 1024 ** 3, maxRatio: 200, ratioFrom: 1024 ** 3 });
  assert.equal(layerLimits({ TSBUILD_MAX_LAYER_SIZE: "100G" }).maxBytes, 100 * 1024 ** 3);
  assert.equal(layerLimits({ TSBUILD_MAX_LAYER_RATIO: "5000" }).maxRatio, 5000);
  assert.throws(() => layerLimits({ TSBUILD_MAX_LAYER_SIZE: "lots" }), /^UserError: TSBUILD_MAX_LAYER_SIZE=lots: not a size \(e.g. 100G\)$/);
});
