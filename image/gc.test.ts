import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { digestHex, sha256 } from "../common/digest.js";
import { CacheIndex } from "../cache/index.js";
import { withStore, fakeImage } from "./testutil.js";
import { blobsOfManifest, collectGarbage } from "./gc.js";

test("gc removes blobs of untagged images, keeps index-reachable, cache-referenced and caller-kept blobs", async () => {
  await withStore(async (store) => {
    const kept = await fakeImage(store, "kept", ["kept:1"]);
    const cached = await fakeImage(store, "cached", ["cached:1"]);
    const held = await fakeImage(store, "held", ["held:1"]);
    const gone = await fakeImage(store, "gone", ["gone:1"]);
    const cachedLayer = cached.manifest.layers[0]!.digest;
    const keysDir = join(store.paths.cache, "keys");
    await mkdir(keysDir, { recursive: true });
    // Written by the cache index itself, so the test follows its file layout (a head line, then the record).
    const key = sha256("a cache key");
    await new CacheIndex(store.paths.cache).put(key, {
      key, chainId: sha256("chain"), diffId: cachedLayer, layerSize: 1, createdAt: 0, lastUsed: 0, durationMs: 1,
      record: { parentKey: sha256("parent"), instruction: "RUN", text: "RUN true", definition: {}, buildArgs: {} },
    });
    await writeFile(join(keysDir, `${"b".repeat(64)}.json`), "{ damaged");
    for (const ref of ["cached:1", "held:1", "gone:1"]) await store.untag(ref);
    const heldBlobs = await blobsOfManifest(store, held.manifestDigest);
    const result = await collectGarbage(store, heldBlobs);
    const removed = new Set(result.removed);
    for (const d of [kept.manifestDigest, kept.configDigest, kept.manifest.layers[0]!.digest, cachedLayer, ...heldBlobs]) {
      assert.ok(await store.has(d), `${d} kept`);
      assert.ok(!removed.has(d));
    }
    for (const d of [gone.manifestDigest, gone.configDigest, gone.manifest.layers[0]!.digest, cached.manifestDigest, cached.configDigest]) {
      assert.ok(!(await store.has(d)), `${digestHex(d)} removed`);
      assert.ok(removed.has(d));
    }
    assert.equal(result.removed.length, 5);
    assert.ok(result.bytes > 0);
    assert.deepEqual((await collectGarbage(store, heldBlobs)).removed, [], "a second pass finds nothing");
  });
});
