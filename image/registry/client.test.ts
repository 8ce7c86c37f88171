// The registry client against a real registry (Debian's docker-registry via test/registryserver.ts):
// anonymous, htpasswd (Basic) and token (Bearer) auth.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { sha256, type Digest } from "../../common/digest.js";
import { startRegistry, type TestRegistry } from "../../test/registryserver.js";
import { RegistryError, type RepositoryClient } from "./api.js";
import { openRepository, verifyLogin } from "./client.js";
import { saveCredentials } from "./credentials.js";

// Keep the machine's Docker config out of these tests.
process.env.DOCKER_CONFIG = join(tmpdir(), "tsbuild-registry-test-no-docker-config");

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

function blobOf(size: number): { bytes: Buffer; digest: Digest; size: number } {
  const bytes = randomBytes(size);
  return { bytes, digest: sha256(bytes), size };
}

/** Splits bytes into a stream of small chunks, as a file read would deliver them. */
function streamOf(bytes: Buffer, piece = 1000): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += piece) parts.push(bytes.subarray(i, i + piece));
  return Readable.from(parts);
}

async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function manifestFor(config: { digest: Digest; size: number }, layer: { digest: Digest; size: number }): Buffer {
  return Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: OCI_MANIFEST,
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: config.digest, size: config.size },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: layer.digest, size: layer.size }],
  }));
}

async function pushRoundtrip(repo: RepositoryClient): Promise<void> {
  const layer = blobOf(5000);
  assert.equal(await repo.hasBlob(layer.digest), false);
  assert.equal(await repo.pushBlob(layer, () => streamOf(layer.bytes)), "uploaded");
  assert.equal(await repo.hasBlob(layer.digest), true);
  assert.deepEqual(await readAll(await repo.openBlob(layer.digest, layer.size)), layer.bytes);
}

describe("anonymous registry", () => {
  let reg: TestRegistry;
  before(async () => { reg = await startRegistry(); });
  after(async () => { await reg.stop(); });
  const repoOf = (path: string): RepositoryClient => openRepository({ domain: reg.host, path });

  test("monolithic push, HEAD, pull roundtrip; a second push is skipped", async () => {
    const repo = repoOf("anon/mono");
    await pushRoundtrip(repo);
    const again = blobOf(10);
    await repo.pushBlob(again, () => streamOf(again.bytes));
    let opened = 0;
    assert.equal(await repo.pushBlob(again, () => { opened++; return streamOf(again.bytes); }), "exists");
    assert.equal(opened, 0);
  });

  test("chunked push (PATCH with Content-Range, following Location)", async () => {
    const repo = repoOf("anon/chunked");
    const layer = blobOf(10_500);
    assert.equal(await repo.pushBlob(layer, () => streamOf(layer.bytes, 777), { chunkSize: 4096 }), "uploaded");
    assert.deepEqual(await readAll(await repo.openBlob(layer.digest, layer.size)), layer.bytes);
    const empty = blobOf(0);
    assert.equal(await repo.pushBlob(empty, () => Readable.from([]), { chunkSize: 4096 }), "uploaded");
    assert.equal(await repo.hasBlob(empty.digest), true);
  });

  test("cross-repository mount", async () => {
    const src = repoOf("anon/mount-src");
    const dst = repoOf("anon/mount-dst");
    const layer = blobOf(3000);
    await src.pushBlob(layer, () => streamOf(layer.bytes));
    assert.equal(await dst.pushBlob(layer, () => streamOf(layer.bytes), { mountFrom: "anon/mount-src" }), "mounted");
    assert.equal(await dst.hasBlob(layer.digest), true);
    // Mounting from a repository that lacks the blob falls back to an upload.
    const other = blobOf(100);
    assert.equal(await dst.pushBlob(other, () => streamOf(other.bytes), { mountFrom: "anon/nothing-here" }), "uploaded");
    assert.deepEqual(await readAll(await dst.openBlob(other.digest, other.size)), other.bytes);
  });

  test("manifest put, get by tag and digest, head", async () => {
    const repo = repoOf("anon/manifests");
    const config = blobOf(200);
    const layer = blobOf(300);
    await repo.pushBlob(config, () => streamOf(config.bytes));
    await repo.pushBlob(layer, () => streamOf(layer.bytes));
    const bytes = manifestFor(config, layer);
    const digest = await repo.putManifest("v1", OCI_MANIFEST, bytes);
    assert.equal(digest, sha256(bytes));
    const byTag = await repo.getManifest("v1");
    assert.deepEqual(byTag, { mediaType: OCI_MANIFEST, digest, bytes });
    const byDigest = await repo.getManifest(digest);
    assert.equal(byDigest.digest, digest);
    assert.deepEqual(await repo.headManifest("v1"), { digest, size: bytes.length, mediaType: OCI_MANIFEST });
    assert.equal(await repo.headManifest("nope"), undefined);
    assert.equal(await repo.putManifest(digest, OCI_MANIFEST, bytes), digest);
  });

  test("404s say what is unknown", async () => {
    const repo = repoOf("anon/manifests");
    await assert.rejects(repo.getManifest("missing"), (e: unknown) =>
      e instanceof RegistryError && e.status === 404 && e.message === `manifest unknown: ${reg.host}/anon/manifests:missing`);
    const d = sha256("nothing");
    await assert.rejects(repo.openBlob(d), (e: unknown) =>
      e instanceof RegistryError && e.status === 404 && e.message === `blob unknown: ${reg.host}/anon/manifests@${d}`);
  });
});

describe("htpasswd (Basic) registry", () => {
  let reg: TestRegistry;
  let root: string;
  before(async () => {
    reg = await startRegistry({ htpasswd: { user: "alice", password: "s3cret" } });
    root = await mkdtemp(join(tmpdir(), "tsbuild-auth-"));
  });
  after(async () => {
    await reg.stop();
    await rm(root, { recursive: true, force: true });
  });

  test("no credentials: authentication required", async () => {
    const repo = openRepository({ domain: reg.host, path: "basic/app" });
    await assert.rejects(repo.getManifest("latest"), (e: unknown) =>
      e instanceof RegistryError && e.status === 401 &&
      e.message.startsWith(`authentication required for ${reg.host}: ${reg.host}/basic/app:latest: run \`tsbuild login ${reg.host}\``));
  });

  test("right password from <root>/auth.json", async () => {
    await saveCredentials(root, reg.host, "alice", "s3cret");
    await pushRoundtrip(openRepository({ domain: reg.host, path: "basic/app" }, { storeRoot: root }));
    await verifyLogin(reg.host, { username: "alice", password: "s3cret" });
  });

  test("wrong password: a clear error", async () => {
    const bad = await mkdtemp(join(tmpdir(), "tsbuild-auth-bad-"));
    try {
      await saveCredentials(bad, reg.host, "alice", "wrong");
      const repo = openRepository({ domain: reg.host, path: "basic/app" }, { storeRoot: bad });
      await assert.rejects(repo.hasBlob(sha256("x")), (e: unknown) =>
        e instanceof RegistryError && e.status === 401 && e.message.startsWith(`authentication failed for ${reg.host}: wrong credentials`));
      await assert.rejects(verifyLogin(reg.host, { username: "alice", password: "wrong" }), /authentication failed/);
    } finally {
      await rm(bad, { recursive: true, force: true });
    }
  });
});

describe("token (Bearer) registry", () => {
  let reg: TestRegistry;
  let root: string;
  before(async () => {
    reg = await startRegistry({ tokenAuth: { user: "bob", password: "hunter2" } });
    root = await mkdtemp(join(tmpdir(), "tsbuild-token-"));
    await saveCredentials(root, reg.host, "bob", "hunter2");
  });
  after(async () => {
    await reg.stop();
    await rm(root, { recursive: true, force: true });
  });

  test("push, pull, mount and manifests through the token flow; tokens cached per scope", async () => {
    const src = openRepository({ domain: reg.host, path: "tok/src" }, { storeRoot: root });
    await pushRoundtrip(src);
    const layer = blobOf(2000);
    await src.pushBlob(layer, () => streamOf(layer.bytes));
    const config = blobOf(50);
    await src.pushBlob(config, () => streamOf(config.bytes));
    const digest = await src.putManifest("1.0", OCI_MANIFEST, manifestFor(config, layer));
    assert.equal((await src.getManifest("1.0")).digest, digest);

    const dst = openRepository({ domain: reg.host, path: "tok/dst" }, { storeRoot: root });
    assert.equal(await dst.pushBlob(layer, () => streamOf(layer.bytes), { mountFrom: "tok/src" }), "mounted");
    const issued = reg.tokenServer!.issued;
    assert.equal(issued.get("repository:tok/src:pull,push"), 1, JSON.stringify([...issued]));
    assert.equal(issued.get("repository:tok/src:pull"), 1, JSON.stringify([...issued]));
    assert.equal(issued.get("repository:tok/dst:pull,push repository:tok/src:pull"), 1, JSON.stringify([...issued]));
  });

  test("anonymous: the registry refuses the token-less pull", async () => {
    const repo = openRepository({ domain: reg.host, path: "tok/src" });
    await assert.rejects(repo.getManifest("1.0"), (e: unknown) =>
      e instanceof RegistryError && e.status === 401 && /^authentication required for /.test(e.message));
  });

  test("wrong password: the token server refuses", async () => {
    await assert.rejects(verifyLogin(reg.host, { username: "bob", password: "nope" }), (e: unknown) =>
      e instanceof RegistryError && e.message === `authentication failed for ${reg.host}: wrong credentials for user bob`);
    await verifyLogin(reg.host, { username: "bob", password: "hunter2" });
  });
});
