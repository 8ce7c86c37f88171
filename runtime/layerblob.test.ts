import { test } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { sha256 } from "../common/digest.js";
import { MediaType } from "../image/config.js";
import { withStore } from "../image/testutil.js";
import { layerCompression, openBlobAsTar, openLayerTar } from "./layerblob.js";

async function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

test("layerCompression follows the media type", () => {
  assert.equal(layerCompression(MediaType.ociLayer), "none");
  assert.equal(layerCompression(MediaType.ociLayerGzip), "gzip");
  assert.equal(layerCompression(MediaType.dockerLayerGzip), "gzip");
  assert.equal(layerCompression(MediaType.ociLayerZstd), "zstd");
});

test("a gzip layer reads as its plain bytes, checked against the diffID", async () => {
  await withStore(async (store) => {
    const plain = Buffer.from("pretend this is a tar ".repeat(1000));
    const desc = await store.writeBlob(gzipSync(plain), MediaType.ociLayerGzip);
    assert.deepEqual(await readAll(openLayerTar(store, desc, sha256(plain))), plain);
    assert.deepEqual(await readAll(await openBlobAsTar(store, desc.digest)), plain);
    await assert.rejects(readAll(openLayerTar(store, desc, sha256("something else"))), /diffID mismatch/);
    const raw = await store.writeBlob(plain, MediaType.ociLayer);
    assert.deepEqual(await readAll(openLayerTar(store, raw, raw.digest)), plain);
  });
});
