import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import { sha256, type Digest } from "../../common/digest.js";
import { MediaType, type ImageIndex } from "../config.js";
import { withStore } from "../testutil.js";
import type { ContentStore } from "../store.js";
import { FakeRegistry } from "./pullfake.js";
import { pullImage } from "./pull.js";
import { parsePlatform } from "./platform.js";
import type { TransferEvent } from "./progress.js";

/** Puts a docker schema 2 image with gzip layers into the fake registry; returns its manifest digest. */
function remoteImage(reg: FakeRegistry, repo: string, tag: string, layerTexts: string[], arch = "amd64"): { digest: Digest; configDigest: Digest; layers: Digest[] } {
  const plain = layerTexts.map((t) => Buffer.from(t));
  const gz = plain.map((b) => gzipSync(b));
  const config = Buffer.from(JSON.stringify({ architecture: arch, os: "linux", rootfs: { type: "layers", diff_ids: plain.map((b) => sha256(b)) }, config: {} }));
  const configDigest = reg.addBlob(repo, config);
  const layers = gz.map((b) => reg.addBlob(repo, b));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.dockerManifest,
    config: { mediaType: MediaType.dockerConfig, digest: configDigest, size: config.length },
    layers: gz.map((b, i) => ({ mediaType: MediaType.dockerLayerGzip, digest: layers[i], size: b.length })),
  }));
  const digest = reg.putManifest(repo, tag, MediaType.dockerManifest, manifest);
  return { digest, configDigest, layers };
}

async function blobNames(store: ContentStore): Promise<string[]> {
  return (await readdir(store.paths.blobs)).sort();
}

test("pull: fetches config and layers, keeps the registry's manifest digest, tags the image", async () => {
  await withStore(async (store) => {
    const reg = new FakeRegistry();
    const img = remoteImage(reg, "team/app", "1.0", ["layer one", "layer two"]);
    const events: TransferEvent[] = [];
    const r = await pullImage(store, "fake.test:5000/team/app:1.0", { connect: reg.connect, onEvent: (e) => events.push(e) });
    assert.equal(r.changed, true);
    assert.equal(r.fetched, 2);
    assert.equal(r.digest, img.digest);
    assert.equal(r.manifestDigest, img.digest);
    assert.equal(r.imageId, img.configDigest);
    const rec = await store.resolveImage("fake.test:5000/team/app:1.0");
    assert.equal(rec.manifestDigest, img.digest);
    assert.equal(rec.manifestDescriptor.mediaType, MediaType.dockerManifest);
    assert.deepEqual(rec.refs, ["fake.test:5000/team/app:1.0"]);
    for (const l of img.layers) assert.equal(await store.has(l), true);
    const statuses = events.filter((e) => e.type === "layer").map((e) => `${e.id}: ${(e as { status: string }).status}`);
    assert.ok(statuses.includes(`${img.layers[0]!.slice(7, 19)}: Pull complete`));
    assert.deepEqual(await readdir(store.paths.tmp), []);
  });
});

test("pull: an image already here is up to date and fetches no blob", async () => {
  await withStore(async (store) => {
    const reg = new FakeRegistry();
    remoteImage(reg, "app", "latest", ["a"]);
    await pullImage(store, "fake.test:5000/app", { connect: reg.connect });
    reg.resetCounts();
    const r = await pullImage(store, "fake.test:5000/app", { connect: reg.connect });
    assert.equal(r.changed, false);
    assert.equal(r.fetched, 0);
    assert.equal(reg.counts.openBlob, 0);
    assert.equal(reg.counts.getManifest, 1);
  });
});

test("pull: only the missing layers are fetched", async () => {
  await withStore(async (store) => {
    const reg = new FakeRegistry();
    remoteImage(reg, "base", "1", ["shared layer"]);
    await pullImage(store, "fake.test:5000/base:1", { connect: reg.connect });
    remoteImage(reg, "app", "1", ["shared layer", "own layer"]);
    reg.resetCounts();
    const events: TransferEvent[] = [];
    const r = await pullImage(store, "fake.test:5000/app:1", { connect: reg.connect, onEvent: (e) => events.push(e) });
    assert.equal(r.fetched, 1);
    assert.equal(reg.counts.openBlob, 2); // the config and one layer
    assert.ok(events.some((e) => e.type === "layer" && e.status === "Already exists"));
  });
});

test("pull: an index gives the linux/amd64 image, or the --platform one; a missing platform lists the others", async () => {
  await withStore(async (store) => {
    const reg = new FakeRegistry();
    const amd = remoteImage(reg, "multi", "amd64-only", ["amd"], "amd64");
    const arm = remoteImage(reg, "multi", "arm64-only", ["arm"], "arm64");
    const entry = (d: Digest, architecture: string, variant?: string): object => ({
      mediaType: MediaType.dockerManifest, digest: d, size: reg.manifests.get(`multi@${d}`)!.bytes.length,
      platform: { architecture, os: "linux", ...(variant ? { variant } : {}) },
    });
    const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [entry(arm.digest, "arm64", "v8"), entry(amd.digest, "amd64")] as ImageIndex["manifests"] };
    const indexDigest = reg.putManifest("multi", "latest", MediaType.ociIndex, Buffer.from(JSON.stringify(index)));

    const r = await pullImage(store, "fake.test:5000/multi", { connect: reg.connect });
    assert.equal(r.digest, indexDigest);
    assert.equal(r.manifestDigest, amd.digest);
    const r2 = await pullImage(store, "fake.test:5000/multi:latest", { connect: reg.connect, platform: parsePlatform("linux/arm64") });
    assert.equal(r2.manifestDigest, arm.digest);
    await assert.rejects(
      pullImage(store, "fake.test:5000/multi", { connect: reg.connect, platform: parsePlatform("linux/s390x") }),
      /no matching manifest for linux\/s390x .*available: linux\/arm64\/v8, linux\/amd64/,
    );
  });
});

test("pull: a corrupt layer fails and leaves the store as it was", async () => {
  await withStore(async (store) => {
    const reg = new FakeRegistry();
    const img = remoteImage(reg, "bad", "1", ["good layer", "bad layer", "another good one"]);
    reg.tamper.set(img.layers[1]!, gzipSync(Buffer.from("evil")));
    const before = await blobNames(store);
    await assert.rejects(pullImage(store, "fake.test:5000/bad:1", { connect: reg.connect, concurrency: 1 }), /digest mismatch/);
    assert.deepEqual(await blobNames(store), before);
    assert.deepEqual(await readdir(store.paths.tmp), []);
    assert.deepEqual(await store.listImages(), []);
  });
});

test("pull: a missing tag is the registry's error; a config with the wrong layer count is refused", async () => {
  await withStore(async (store) => {
    const reg = new FakeRegistry();
    await assert.rejects(pullImage(store, "fake.test:5000/none:1", { connect: reg.connect }), /manifest unknown/);
    const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } }));
    const cd = reg.addBlob("odd", config);
    const layer = gzipSync(Buffer.from("x"));
    const ld = reg.addBlob("odd", layer);
    reg.putManifest("odd", "1", MediaType.ociManifest, Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: cd, size: config.length },
      layers: [{ mediaType: MediaType.ociLayerGzip, digest: ld, size: layer.length }],
    })));
    await assert.rejects(pullImage(store, "fake.test:5000/odd:1", { connect: reg.connect }), /1 layers but the config has 0 diff_ids/);
    assert.deepEqual(await store.listImages(), []);
  });
});

test("pull by digest: the image is listed untagged and found by name@digest", async () => {
  await withStore(async (store) => {
    const reg = new FakeRegistry();
    const img = remoteImage(reg, "pinned", "1", ["p"]);
    const r = await pullImage(store, `fake.test:5000/pinned@${img.digest}`, { connect: reg.connect });
    assert.equal(r.manifestDigest, img.digest);
    const rec = await store.resolveImage(`fake.test:5000/pinned@${img.digest}`);
    assert.equal(rec.configDigest, img.configDigest);
  });
});
