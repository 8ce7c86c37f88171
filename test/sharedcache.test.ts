// The shared build cache (--cache-to / --cache-from) between two separate stores: store A builds and
// exports, store B (empty but for the same base image) imports and must run no step. Against a folder
// (type=local) and against Debian's docker-registry started here (type=registry).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { freshStore, removeStore, storeGrowth, storeListing, tsbuild, tsbuildOk } from "./helpers.js";
import { startRegistry, type TestRegistry } from "./registryserver.js";
import { openRepository } from "../image/registry/client.js";
import type { Digest } from "../common/digest.js";
import { chainIds } from "../image/config.js";

const DOCKERFILE = `FROM busybox:local AS builder
COPY a.txt /src/a.txt
RUN date +%N > /src/stamp && cat /src/a.txt >> /src/stamp
RUN echo built > /src/built

FROM busybox:local
COPY --from=builder /src/stamp /app/stamp
RUN date +%N > /app/stamp2
COPY b.txt /app/b.txt
RUN cat /app/b.txt > /app/copy && date +%N >> /app/copy
`;

interface Step { stage: string; instruction: string; cached: boolean; reason: string | null; source?: string; layer_digest: string | null }
interface Report { steps: Step[] }
interface CacheRec { key: string; diffId: string; layer: { digest: string }; record: { text: string } }
interface ImageConfig { rootfs: { diff_ids: string[] }; config: Record<string, unknown> }

const sha = (b: Buffer | string): string => createHash("sha256").update(b).digest("hex");

let work: string;
let storeA: string;
let baseTar: string;
let ctx: string;

async function newStoreB(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "tsbuild-test-storeB-"));
  await tsbuildOk(["--root", root, "load", "-q", "-i", baseTar]);
  return root;
}

async function build(root: string, context: string, extra: string[]): Promise<{ report: Report; code: number | null; stderr: string }> {
  const reportFile = join(work, `report-${Date.now()}-${Math.random()}.json`);
  const r = await tsbuild(["--root", root, "build", "-t", "app:1", "--progress", "plain", "--report", reportFile, ...extra, context]);
  const text = await readFile(reportFile, "utf8").catch((e: unknown) => {
    throw new Error(`no report (exit ${r.code}): ${r.stderr.slice(-1500)}`, { cause: e });
  });
  const report = JSON.parse(text) as Report;
  return { report, code: r.code, stderr: r.stderr };
}

async function buildOk(root: string, context: string, extra: string[]): Promise<Report> {
  const r = await build(root, context, extra);
  assert.equal(r.code, 0, r.stderr.slice(-2000));
  return r.report;
}

async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, "utf8")) as T;
}

/** The config of app:1 in a store (an OCI layout). */
async function imageConfig(root: string): Promise<ImageConfig> {
  const index = await readJson<{ manifests: { digest: string; annotations?: Record<string, string> }[] }>(join(root, "index.json"));
  const entry = index.manifests.find((m) => m.annotations?.["org.opencontainers.image.ref.name"] === "docker.io/library/app:1");
  assert.ok(entry, "app:1 is tagged");
  const blob = (d: string): string => join(root, "blobs", "sha256", d.slice(7));
  const manifest = await readJson<{ config: { digest: string } }>(blob(entry.digest));
  return readJson<ImageConfig>(blob(manifest.config.digest));
}

const fsSteps = (r: Report): Step[] => r.steps.filter((s) => !s.instruction.startsWith("FROM"));

/** The cache folder's manifest and config, as written by --cache-to type=local. */
async function localCache(dir: string): Promise<{ manifestDigest: string; manifest: Record<string, unknown>; configDigest: string; config: { records: CacheRec[] } }> {
  const index = await readJson<{ manifests: { digest: string }[] }>(join(dir, "index.json"));
  const manifestDigest = index.manifests[0]!.digest;
  const manifest = await readJson<{ config: { digest: string } }>(join(dir, "blobs", "sha256", manifestDigest.slice(7)));
  const configDigest = manifest.config.digest;
  const config = await readJson<{ records: CacheRec[] }>(join(dir, "blobs", "sha256", configDigest.slice(7)));
  return { manifestDigest, manifest: manifest as unknown as Record<string, unknown>, configDigest, config };
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), "tsbuild-test-sharedcache-"));
  storeA = await freshStore();
  baseTar = join(work, "base.tar");
  await tsbuildOk(["--root", storeA, "save", "-o", baseTar, "busybox:local"]);
  ctx = join(work, "ctx");
  await mkdir(ctx);
  await writeFile(join(ctx, "Dockerfile"), DOCKERFILE);
  await writeFile(join(ctx, "a.txt"), "aaa\n");
  await writeFile(join(ctx, "b.txt"), "bbb\n");
});

after(async () => {
  await removeStore(storeA);
  await rm(work, { recursive: true, force: true });
});

describe("shared cache through a folder (type=local)", () => {
  let maxDir: string;
  let minDir: string;
  let configA: ImageConfig;

  before(async () => {
    maxDir = join(work, "cache-max");
    minDir = join(work, "cache-min");
    const r = await buildOk(storeA, ctx, ["--cache-to", `type=local,dest=${maxDir},mode=max`, "--cache-to", `type=local,dest=${minDir}`]);
    assert.equal(fsSteps(r).filter((s) => s.cached).length, 0, "A builds everything");
    configA = await imageConfig(storeA);
  });

  it("a fresh store takes every step from the cache and runs none: same layers as store A", async () => {
    const storeB = await newStoreB();
    try {
      const r = await buildOk(storeB, ctx, ["--cache-from", `type=local,src=${maxDir}`]);
      for (const s of fsSteps(r)) {
        assert.equal(s.cached, true, `${s.instruction} cached (${s.reason})`);
        assert.equal(s.source, "local");
      }
      const configB = await imageConfig(storeB);
      // each RUN writes `date +%N`: equal diffIDs mean none of them ran again in B
      assert.deepEqual(configB.rootfs.diff_ids, configA.rootfs.diff_ids);
      // nothing ran, so only what a step read was unpacked (BuildKit's lazy refs): the builder stage, for
      // the COPY --from's key (its files' contents), and none of the final stage's layers
      const made = new Set(await readdir(join(storeB, "snapshots", "chains")));
      const finalChains = chainIds(configB.rootfs.diff_ids as Digest[]).slice(1);
      for (const c of finalChains) assert.equal(made.has(c.slice(7)), false, `${c} not unpacked`);
      assert.equal(made.size, 4, "the base and the builder stage's three layers");
      assert.deepEqual(configB.config, configA.config);
      // a second build in B is an ordinary local hit
      const again = await buildOk(storeB, ctx, []);
      for (const s of fsSteps(again)) assert.equal(s.cached, true);
      assert.equal(fsSteps(again).some((s) => s.source !== undefined), false);
    } finally {
      await removeStore(storeB);
    }
  });

  it("mode=min keeps the final image's steps only; mode=max every step of every stage", async () => {
    const min = await localCache(minDir);
    const max = await localCache(maxDir);
    assert.equal(max.config.records.length, 7);
    assert.equal(min.config.records.length, 4);
    const maxKeys = new Set(max.config.records.map((r) => r.key));
    for (const r of min.config.records) assert.ok(maxKeys.has(r.key));
    // the final image's own layers are exactly min's
    const finalLayers = configA.rootfs.diff_ids.slice(-4);
    assert.deepEqual(min.config.records.map((r) => r.diffId), finalLayers);
    assert.equal(max.manifest.artifactType, "application/vnd.tsbuild.cache.config.v1+json");
  });

  it("a changed file rebuilds its step and the ones after it; earlier steps come from the cache, only their layers fetched", async () => {
    const storeB = await newStoreB();
    const ctxB = join(work, "ctxB");
    try {
      await cp(ctx, ctxB, { recursive: true });
      await writeFile(join(ctxB, "b.txt"), "changed\n");
      const r = await buildOk(storeB, ctxB, ["--cache-from", `type=local,src=${maxDir}`]);
      const verdict = fsSteps(r).map((s) => [s.instruction.split(" ").slice(0, 2).join(" "), s.cached]);
      assert.deepEqual(verdict, [
        ["COPY a.txt", true], ["RUN date", true], ["RUN echo", true],
        ["COPY --from=builder", true], ["RUN date", true], ["COPY b.txt", false], ["RUN cat", false],
      ]);
      const rebuilt = fsSteps(r).filter((s) => !s.cached);
      for (const s of rebuilt) assert.ok(s.reason, "a miss has a reason");
      // the layers of A's last two steps were not fetched into B
      const blobsB = new Set(await readdir(join(storeB, "blobs", "sha256")));
      for (const d of configA.rootfs.diff_ids.slice(-2)) assert.equal(blobsB.has(d.slice(7)), false, `${d} not fetched`);
      for (const d of configA.rootfs.diff_ids.slice(-4, -2)) assert.ok(blobsB.has(d.slice(7)), `${d} fetched`);
      // the missed steps' layers fetched ahead (cache/remote/prefetch.ts) were dropped, not left staged
      assert.deepEqual((await readdir(join(storeB, "tmp"))).filter((n) => n.startsWith("ingest")), []);
    } finally {
      await removeStore(storeB);
      await rm(ctxB, { recursive: true, force: true });
    }
  });

  it("a missing cache is skipped with a warning", async () => {
    const storeB = await newStoreB();
    try {
      const r = await build(storeB, ctx, ["--cache-from", `type=local,src=${join(work, "no-such-cache")}`]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /cache .*no-such-cache not found; building without it/);
    } finally {
      await removeStore(storeB);
    }
  });

  it("an unreachable cache registry is skipped with a warning (as BuildKit does)", async () => {
    const storeB = await newStoreB();
    try {
      // nothing listens there: the connection is refused at once
      const r = await build(storeB, ctx, ["--cache-from", "type=registry,ref=127.0.0.1:39999/nobody/cache:x"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /cache .*127\.0\.0\.1:39999.*cannot reach.*building without it/);
    } finally {
      await removeStore(storeB);
    }
  });

  it("bad --cache-to/--cache-from values are refused with a clear message", async () => {
    for (const [flag, value, msg] of [
      ["--cache-to", "type=s3,bucket=x", /unknown cache type "s3"/],
      ["--cache-to", "type=local,src=/x", /unknown key "src" for type=local \(expected type, dest, tag, mode\)/],
      ["--cache-to", "type=local,dest=/x,mode=all", /mode must be min or max/],
      ["--cache-from", "type=registry", /ref is missing/],
      ["--cache-from", "type=registry,ref=127.0.0.1:5000/x:c,mode=max", /unknown key "mode"/],
    ] as const) {
      const r = await tsbuild(["--root", storeA, "build", "-t", "app:1", flag, value, ctx]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, msg);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
  });
});

describe("a corrupt or foreign cache is refused and a bad layer is rebuilt", () => {
  let good: string;

  before(async () => {
    good = join(work, "cache-good");
    await buildOk(storeA, ctx, ["--cache-to", `type=local,dest=${good},mode=max`]);
  });

  /** A copy of the good cache, changed by `edit`. */
  async function damaged(name: string, edit: (dir: string) => Promise<void>): Promise<string> {
    const dir = join(work, name);
    await cp(good, dir, { recursive: true });
    await edit(dir);
    return dir;
  }

  /** Puts a new manifest in the folder and points index.json at it. */
  async function replaceManifest(dir: string, bytes: Buffer): Promise<void> {
    await writeFile(join(dir, "blobs", "sha256", sha(bytes)), bytes);
    const index = await readJson<{ manifests: { digest: string; size: number }[] }>(join(dir, "index.json"));
    index.manifests[0]!.digest = `sha256:${sha(bytes)}`;
    index.manifests[0]!.size = bytes.length;
    await writeFile(join(dir, "index.json"), JSON.stringify(index));
  }

  const cases: Array<[string, (dir: string) => Promise<void>, RegExp]> = [
    ["edited config blob", async (dir) => {
      const { configDigest } = await localCache(dir);
      const path = join(dir, "blobs", "sha256", configDigest.slice(7));
      await writeFile(path, (await readFile(path, "utf8")).replace('"durationMs":', '"durationMs":1'));
    }, /config blob does not match its digest/],
    ["wrong config media type", async (dir) => {
      const { manifest } = await localCache(dir);
      (manifest.config as { mediaType: string }).mediaType = "application/vnd.oci.image.config.v1+json";
      await replaceManifest(dir, Buffer.from(JSON.stringify(manifest)));
    }, /config media type application\/vnd\.oci\.image\.config\.v1\+json/],
    ["garbage manifest", async (dir) => replaceManifest(dir, Buffer.from("garbage\n")), /manifest is not JSON/],
    ["a record whose key is not its record's hash", async (dir) => {
      const { manifest, config } = await localCache(dir);
      config.records[1]!.record.text = "RUN rm -rf /";
      const bytes = Buffer.from(JSON.stringify(config));
      await writeFile(join(dir, "blobs", "sha256", sha(bytes)), bytes);
      Object.assign(manifest.config as object, { digest: `sha256:${sha(bytes)}`, size: bytes.length });
      await replaceManifest(dir, Buffer.from(JSON.stringify(manifest)));
    }, /records\[1\]\.key does not match its record/],
  ];

  for (const [name, edit, detail] of cases) {
    it(`${name}: refused, the store is left as it was`, async () => {
      const dir = await damaged(name.replace(/\W+/g, "-"), edit);
      const storeB = await newStoreB();
      try {
        const beforeB = storeListing(storeB);
        const r = await build(storeB, ctx, ["--cache-from", `type=local,src=${dir}`]);
        assert.equal(r.code, 1);
        const line = r.stderr.trim().split("\n").at(-1) ?? "";
        assert.ok(line.startsWith(`error: cache ${dir}: not a tsbuild cache (`), line);
        assert.match(line, detail);
        assert.deepEqual(storeGrowth(beforeB, storeListing(storeB)), []);
        assert.deepEqual(await readdir(join(storeB, "cache")).catch(() => []), []);
      } finally {
        await removeStore(storeB);
      }
    });
  }

  it("a layer blob that fails verification: that step is built instead, no partial blob is kept", async () => {
    const { config } = await localCache(good);
    const bad = config.records.find((r) => r.record.text === "RUN date +%N > /app/stamp2");
    assert.ok(bad);
    const dir = await damaged("bad-layer", async (d) => {
      const path = join(d, "blobs", "sha256", bad.layer.digest.slice(7));
      const bytes = await readFile(path);
      bytes[100] = bytes[100]! ^ 0xff; // same size, wrong digest
      await writeFile(path, bytes);
    });
    const storeB = await newStoreB();
    try {
      const r = await buildOk(storeB, ctx, ["--cache-from", `type=local,src=${dir}`]);
      const steps = fsSteps(r);
      assert.deepEqual(steps.map((s) => s.cached), [true, true, true, true, false, false, false]);
      assert.match(steps[4]!.reason ?? "", /could not be fetched \(cache layer digest mismatch/);
      assert.match(steps[5]!.reason ?? "", /on other parent layers|parent/);
      assert.equal(steps[4]!.layer_digest === bad.diffId, false, "the RUN ran again");
      const blobs = await readdir(join(storeB, "blobs", "sha256"));
      assert.equal(blobs.includes(bad.diffId.slice(7)), false);
      assert.deepEqual((await readdir(join(storeB, "tmp"))).filter((n) => n.startsWith("ingest")), []);
    } finally {
      await removeStore(storeB);
    }
  });
});

describe("shared cache through a registry (type=registry)", () => {
  let reg: TestRegistry;

  before(async () => {
    reg = await startRegistry();
  });

  after(async () => {
    await reg.stop();
  });

  it("store B with an empty store builds from the registry cache without running a step", async () => {
    const ref = `${reg.host}/team/app:buildcache`;
    const a = await buildOk(storeA, ctx, ["--no-cache", "--cache-to", `type=registry,ref=${ref},mode=max`]);
    assert.equal(fsSteps(a).filter((s) => s.cached).length, 0);
    const configA = await imageConfig(storeA);
    const storeB = await newStoreB();
    try {
      const r = await buildOk(storeB, ctx, ["--cache-from", `type=registry,ref=${ref}`]);
      for (const s of fsSteps(r)) {
        assert.equal(s.cached, true, `${s.instruction} cached (${s.reason})`);
        assert.equal(s.source, "registry");
      }
      const configB = await imageConfig(storeB);
      assert.deepEqual(configB.rootfs.diff_ids, configA.rootfs.diff_ids);
      assert.deepEqual(configB.config, configA.config);
    } finally {
      await removeStore(storeB);
    }
  });

  it("a registry layer that fails verification is built instead, leaving no partial blob", async () => {
    const ref = `${reg.host}/team/app:buildcache`; // exported by the test above
    const repo = openRepository({ domain: reg.host, path: "team/app" });
    const manifest = JSON.parse((await repo.getManifest("buildcache")).bytes.toString("utf8")) as { config: { digest: Digest; size: number } };
    const chunks: Buffer[] = [];
    for await (const c of await repo.openBlob(manifest.config.digest, manifest.config.size)) chunks.push(c as Buffer);
    const { records } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { records: CacheRec[] };
    const bad = records.find((r) => r.record.text === "RUN date +%N > /app/stamp2");
    assert.ok(bad);
    const hex = bad.layer.digest.slice(7);
    const data = join(reg.dataDir, "data", "docker", "registry", "v2", "blobs", "sha256", hex.slice(0, 2), hex, "data");
    const bytes = await readFile(data);
    bytes[20] = bytes[20]! ^ 0xff; // same size, wrong digest
    await writeFile(data, bytes);
    const storeB = await newStoreB();
    try {
      const r = await buildOk(storeB, ctx, ["--cache-from", `type=registry,ref=${ref}`]);
      const steps = fsSteps(r);
      assert.deepEqual(steps.map((s) => s.cached), [true, true, true, true, false, false, false]);
      assert.match(steps[4]!.reason ?? "", /could not be fetched \(.*digest mismatch/);
      const blobs = await readdir(join(storeB, "blobs", "sha256"));
      assert.equal(blobs.includes(bad.diffId.slice(7)), false);
      assert.deepEqual((await readdir(join(storeB, "tmp"))).filter((n) => n.startsWith("ingest")), []);
    } finally {
      await removeStore(storeB);
    }
  });

  it("an image that is not a cache is refused", async () => {
    // the cache of a one-step build is fine; its image pushed in place of the cache is not
    const ref = `${reg.host}/team/notacache:1`;
    const repo = openRepository({ domain: reg.host, path: "team/notacache" });
    const configBytes = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] }, config: {} }));
    const configDigest: Digest = `sha256:${sha(configBytes)}`;
    await repo.pushBlob({ digest: configDigest, size: configBytes.length }, () => Readable.from([configBytes]));
    const manifest = { schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: configBytes.length }, layers: [] };
    await repo.putManifest("1", manifest.mediaType, Buffer.from(JSON.stringify(manifest)));
    const storeB = await newStoreB();
    try {
      const beforeB = storeListing(storeB);
      const r = await build(storeB, ctx, ["--cache-from", `type=registry,ref=${ref}`]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /error: cache .*team\/notacache:1: not a tsbuild cache \(config media type application\/vnd\.oci\.image\.config\.v1\+json\)/);
      assert.deepEqual(storeGrowth(beforeB, storeListing(storeB)), []);
    } finally {
      await removeStore(storeB);
    }
  });
});
