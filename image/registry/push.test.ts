import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { sha256 } from "../../common/digest.js";
import { MediaType, type ImageManifest } from "../config.js";
import { fakeImage, withStore } from "../testutil.js";
import { FakeRegistry } from "./pullfake.js";
import { pullImage } from "./pull.js";
import { pushImage } from "./push.js";
import type { TransferEvent } from "./progress.js";

function statuses(events: TransferEvent[]): string[] {
  return events.flatMap((e) => (e.type === "layer" ? [e.status] : []));
}

test("push: an uncompressed local image goes out as an OCI manifest with gzip layers and the same config", async () => {
  await withStore(async (store) => {
    const reg = new FakeRegistry();
    const rec = await fakeImage(store, "pushed", ["fake.test:5000/team/app:1.0"]);
    const events: TransferEvent[] = [];
    const r = await pushImage(store, "fake.test:5000/team/app:1.0", { connect: reg.connect, onEvent: (e) => events.push(e) });
    assert.equal(r.tag, "1.0");
    assert.equal(r.uploaded, 1);
    assert.deepEqual(statuses(events), ["Preparing", "Pushed"]);
    const m = reg.manifests.get(`team/app:1.0`)!;
    assert.equal(sha256(m.bytes), r.digest);
    assert.equal(m.bytes.length, r.size);
    const manifest = JSON.parse(m.bytes.toString()) as ImageManifest;
    assert.equal(manifest.mediaType, MediaType.ociManifest);
    assert.equal(manifest.config.digest, rec.configDigest);
    assert.equal(manifest.layers[0]!.mediaType, MediaType.ociLayerGzip);
    const gz = reg.blobs.get(manifest.layers[0]!.digest)!;
    assert.equal(sha256(gunzipSync(gz)), rec.manifest.layers[0]!.digest);
    assert.deepEqual(await readdir(store.paths.tmp), []);
    assert.ok((await stat(join(store.paths.cache, "registry-blobs.json"))).isFile());
  });
});

test("push twice: the second finds every layer there without compressing again", async () => {
  await withStore(async (store) => {
    const reg = new FakeRegistry();
    await fakeImage(store, "twice", ["fake.test:5000/app:1"]);
    await pushImage(store, "fake.test:5000/app:1", { connect: reg.connect });
    reg.resetCounts();
    const events: TransferEvent[] = [];
    const r = await pushImage(store, "fake.test:5000/app:1", { connect: reg.connect, onEvent: (e) => events.push(e) });
    assert.equal(r.uploaded, 0);
    assert.deepEqual(statuses(events), ["Preparing", "Layer already exists"]);
    assert.equal(reg.counts.uploads, 0);
  });
});

test("push again of what was pushed: the memo is not written again", async () => {
  await withStore(async (store) => {
    const reg = new FakeRegistry();
    await fakeImage(store, "memo", ["fake.test:5000/memo:1", "fake.test:5000/other:1"]);
    const memo = join(store.paths.cache, "registry-blobs.json");
    await pushImage(store, "fake.test:5000/memo:1", { connect: reg.connect });
    const first = await stat(memo);
    await pushImage(store, "fake.test:5000/memo:1", { connect: reg.connect });
    assert.equal((await stat(memo)).ino, first.ino); // written through tmp/ and renamed: a new inode when written
    // a push to another repository is news (where the blobs are), and is recorded
    await pushImage(store, "fake.test:5000/other:1", { connect: reg.connect });
    assert.notEqual((await stat(memo)).ino, first.ino);
  });
});

test("push to another repository on the same host mounts the layer", async () => {
  await withStore(async (store) => {
    const reg = new FakeRegistry();
    await fakeImage(store, "mount", ["fake.test:5000/one:1", "fake.test:5000/two:1"]);
    await pushImage(store, "fake.test:5000/one:1", { connect: reg.connect });
    const events: TransferEvent[] = [];
    await pushImage(store, "fake.test:5000/two:1", { connect: reg.connect, onEvent: (e) => events.push(e) });
    assert.deepEqual(statuses(events), ["Preparing", "Mounted from one"]);
    assert.equal(reg.counts.mounts, 2); // the layer and the config
  });
});

test("a pulled image is pushed back byte for byte: same manifest digest, nothing uploaded", async () => {
  await withStore(async (store) => {
    const reg = new FakeRegistry();
    await fakeImage(store, "roundtrip", ["fake.test:5000/src:1"]);
    const first = await pushImage(store, "fake.test:5000/src:1", { connect: reg.connect });
    await withStore(async (other) => {
      const pulled = await pullImage(other, "fake.test:5000/src:1", { connect: reg.connect });
      assert.equal(pulled.manifestDigest, first.digest);
      reg.resetCounts();
      await other.tag("fake.test:5000/copy:1", (await other.resolveImage("fake.test:5000/src:1")).manifestDescriptor);
      const again = await pushImage(other, "fake.test:5000/copy:1", { connect: reg.connect });
      assert.equal(again.digest, first.digest);
      assert.equal(reg.counts.uploads, 0);
    });
  });
});

test("push: a registry failing mid-push leaves no temporary file and no memo", async () => {
  await withStore(async (store) => {
    const reg = new FakeRegistry();
    await fakeImage(store, "dies", ["fake.test:5000/dies:1"]);
    reg.failUploadAt = 1;
    await assert.rejects(pushImage(store, "fake.test:5000/dies:1", { connect: reg.connect }), /connection reset/);
    assert.deepEqual(await readdir(store.paths.tmp), []);
    await assert.rejects(stat(join(store.paths.cache, "registry-blobs.json")), /ENOENT/);
    assert.equal(reg.manifests.size, 0);
  });
});

test("push: an image not in the store is Docker's error", async () => {
  await withStore(async (store) => {
    const reg = new FakeRegistry();
    await assert.rejects(pushImage(store, "fake.test:5000/nothing:1", { connect: reg.connect }), /An image does not exist locally with the tag: fake.test:5000\/nothing:1/);
  });
});
