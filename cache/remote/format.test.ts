import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { sha256, type Digest } from "../../common/digest.js";
import { MediaType } from "../../image/config.js";
import { chainIdOf } from "../../runtime/snapshotter.js";
import { stepKey, type StepRecord } from "../key.js";
import {
  CACHE_CONFIG_MEDIA_TYPE, ForeignCacheError, cacheManifest, parseCacheConfig, parseCacheManifest, type CacheRecordV1,
} from "./format.js";
import { parseCacheSpec } from "./spec.js";

const base: Digest = sha256("image base");
const diffId: Digest = sha256("layer");
const record: StepRecord = { parentKey: base, instruction: "RUN", text: "RUN make", definition: { argv: ["make"] }, buildArgs: {} };

function cache(edit: (r: CacheRecordV1) => void = () => {}): { manifest: Buffer; config: Buffer } {
  const rec: CacheRecordV1 = {
    key: stepKey(record), parentKey: base, parentChainId: null, chainId: chainIdOf(null, diffId), diffId,
    layer: { digest: diffId, size: 10, mediaType: MediaType.ociLayer }, durationMs: 5, createdAt: 1, record: structuredClone(record),
  };
  edit(rec);
  const config = Buffer.from(JSON.stringify({ version: 1, records: [rec] }));
  const manifest = cacheManifest({ digest: sha256(config), size: config.length, mediaType: CACHE_CONFIG_MEDIA_TYPE }, [rec.layer]);
  return { manifest: Buffer.from(JSON.stringify(manifest)), config };
}

function check(c: { manifest: Buffer; config: Buffer }): number {
  const m = parseCacheManifest(c.manifest, "here");
  return parseCacheConfig(c.config, m, "here").records.length;
}

function refused(c: { manifest: Buffer; config: Buffer }, detail: RegExp): void {
  assert.throws(() => check(c), (e: unknown) => e instanceof ForeignCacheError && /^cache here: not a tsbuild cache \(/.test(e.message) && detail.test(e.message));
}

describe("cache format checks", () => {
  it("accepts what the exporter writes", () => {
    assert.equal(check(cache()), 1);
  });

  it("refuses a foreign manifest, a bad digest, a record not matching its key or chain", () => {
    const image = { schemaVersion: 2, mediaType: MediaType.ociManifest, config: { mediaType: MediaType.ociConfig, digest: diffId, size: 1 }, layers: [] };
    refused({ manifest: Buffer.from(JSON.stringify(image)), config: Buffer.from("{}") }, /config media type application\/vnd\.oci\.image\.config/);
    refused({ manifest: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex })), config: Buffer.from("") }, /manifest media type/);
    refused(cache((r) => { r.diffId = "sha256:xyz" as Digest; }), /records\[0\]\.diffId is not a sha256 digest/);
    refused(cache((r) => { r.record.text = "RUN evil"; }), /key does not match its record/);
    refused(cache((r) => { r.chainId = sha256("other"); }), /chainId does not follow/);
    refused(cache((r) => { r.parentChainId = sha256("p"); }), /chainId does not follow/);
    refused(cache((r) => { r.durationMs = -1; }), /durationMs/);
    const c = cache();
    refused({ manifest: c.manifest, config: Buffer.from(c.config.toString().replace('"version":1', '"version":1 ')) }, /config blob does not match its digest/);
    // a record whose layer is not in the manifest's list
    const m = JSON.parse(c.manifest.toString()) as { layers: unknown[] };
    m.layers = [];
    refused({ manifest: Buffer.from(JSON.stringify(m)), config: c.config }, /not one of the manifest's layers/);
  });

  it("an uncompressed layer must be its own diffID", () => {
    refused(cache((r) => { r.layer.digest = sha256("x"); }), /uncompressed layer digest is not its diffId/);
  });
});

describe("--cache-to / --cache-from values", () => {
  it("parses registry and local specs, with defaults", () => {
    const r = parseCacheSpec("type=registry,ref=127.0.0.1:5000/team/app:cache,mode=max", "to");
    assert.equal(r.type, "registry");
    assert.equal(r.mode, "max");
    assert.equal(r.type === "registry" && r.ref.path, "team/app");
    const bare = parseCacheSpec("127.0.0.1:5000/team/app:cache", "from");
    assert.equal(bare.type, "registry");
    const l = parseCacheSpec("type=local,dest=rel/dir", "to");
    assert.deepEqual(l.type === "local" && [l.dir.startsWith("/"), l.tag, l.mode], [true, "latest", "min"]);
  });

  it("refuses unknown types and keys, missing parts, a digest to export to", () => {
    assert.throws(() => parseCacheSpec("type=gha", "from"), /unknown cache type "gha"/);
    assert.throws(() => parseCacheSpec("type=local,dest=/x", "from"), /unknown key "dest" for type=local \(expected type, src, tag\)/);
    assert.throws(() => parseCacheSpec("ref=x", "from"), /type is missing/);
    assert.throws(() => parseCacheSpec("type=local", "to"), /dest is missing/);
    assert.throws(() => parseCacheSpec(`type=registry,ref=r.io/a@${diffId}`, "to"), /must name a tag/);
    assert.throws(() => parseCacheSpec("type=registry,ref=UPPER/x", "from"), /invalid --cache-from/);
  });
});
