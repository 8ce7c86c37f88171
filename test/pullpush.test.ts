// pull, push, manifest inspect, FROM auto-pull and build --push against Debian's docker-registry on
// loopback, plus skopeo on the other side. One registry serves the whole file.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, writeFile, readFile } from "node:fs/promises";
import { createServer, request } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { sha256 } from "../common/digest.js";
import { storePaths } from "../common/storepaths.js";
import { MediaType, type ImageIndex, type ImageManifest } from "../image/config.js";
import { openRepository } from "../image/registry/client.js";
import type { RepositoryClient } from "../image/registry/api.js";
import type { Connect } from "../image/registry/manifest.js";
import { pullImage } from "../image/registry/pull.js";
import { ContentStore } from "../image/store.js";
import { busyboxRootfs, freshStore, removeStore, storeListing, storeGrowth, tsbuild, tsbuildOk } from "./helpers.js";
import { startRegistry, type TestRegistry } from "./registryserver.js";

let reg: TestRegistry;
let base: string; // a store with busybox:local
const cleanup: string[] = [];

async function emptyStore(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "tsbuild-pullpush-"));
  cleanup.push(root);
  return root;
}

async function context(dockerfile: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "tsbuild-pullpush-ctx-"));
  cleanup.push(dir);
  await writeFile(join(dir, "Dockerfile"), dockerfile);
  return dir;
}

function inspectField(root: string, name: string, field: string): Promise<string> {
  return tsbuildOk(["--root", root, "inspect", "-f", `{{.${field}}}`, name]).then((r) => r.stdout.trim());
}

/** A RepositoryClient wrapper that counts calls. */
function counting(counts: Record<string, number>): Connect {
  return (ref, options) => {
    const c = openRepository(ref, options);
    const count = (k: string): void => void (counts[k] = (counts[k] ?? 0) + 1);
    const wrapped: RepositoryClient = {
      host: c.host,
      repository: c.repository,
      getManifest: (r) => (count("getManifest"), c.getManifest(r)),
      headManifest: (r) => (count("headManifest"), c.headManifest(r)),
      putManifest: (r, t, b) => (count("putManifest"), c.putManifest(r, t, b)),
      hasBlob: (d) => (count("hasBlob"), c.hasBlob(d)),
      listTags: () => (count("listTags"), c.listTags()),
      openBlob: (d, s) => (count("openBlob"), c.openBlob(d, s)),
      pushBlob: (b, o, opts) => (count("pushBlob"), c.pushBlob(b, o, opts)),
    };
    return wrapped;
  };
}

before(async () => {
  reg = await startRegistry();
  base = await freshStore();
  const ctx = await context("FROM busybox:local\nRUN echo pushed-content > /f\nCMD [\"cat\", \"/f\"]\n");
  await tsbuildOk(["--root", base, "build", "-q", "-t", `${reg.host}/it/app:1`, ctx]);
});

after(async () => {
  for (const d of cleanup) await removeStore(d);
  if (base) await removeStore(base);
  if (reg) await reg.stop();
});

test("push a built image, pull it into an empty store: same image id, layers fetched, it runs", async () => {
  const name = `${reg.host}/it/app:1`;
  const pushed = await tsbuildOk(["--root", base, "push", name]);
  assert.match(pushed.stdout, new RegExp(`^The push refers to repository \\[${reg.host}/it/app\\]$`, "m"));
  assert.equal((pushed.stdout.match(/: Pushed$/gm) ?? []).length, 2);
  const m = /^1: digest: (sha256:[a-f0-9]{64}) size: (\d+)$/m.exec(pushed.stdout);
  assert.ok(m, pushed.stdout);

  const other = await emptyStore();
  const pulled = await tsbuildOk(["--root", other, "pull", name]);
  assert.match(pulled.stdout, /^1: Pulling from it\/app$/m);
  assert.equal((pulled.stdout.match(/: Pull complete$/gm) ?? []).length, 2);
  assert.match(pulled.stdout, new RegExp(`^Digest: ${m[1]}$`, "m"));
  assert.match(pulled.stdout, new RegExp(`^Status: Downloaded newer image for ${name}$`, "m"));
  assert.equal(await inspectField(other, name, "Id"), await inspectField(base, name, "Id"));
  assert.equal(await inspectField(other, name, "RepoDigests"), `[${reg.host}/it/app@${m[1]}]`);
  const run = await tsbuildOk(["--root", other, "run", "--rm", name]);
  assert.equal(run.stdout, "pushed-content\n");
  const again = await tsbuildOk(["--root", other, "pull", name]);
  assert.match(again.stdout, new RegExp(`^Status: Image is up to date for ${name}$`, "m"));

  // and the second push finds everything there
  const second = await tsbuildOk(["--root", base, "push", name]);
  assert.equal((second.stdout.match(/: Layer already exists$/gm) ?? []).length, 2);
  assert.doesNotMatch(second.stdout, /Pushed/);
  assert.match(second.stdout, new RegExp(`^1: digest: ${m[1]} size: ${m[2]}$`, "m"));
});

test("pull when the layers are here already fetches only the config (and the manifest)", async () => {
  const ctx = await context(`FROM ${reg.host}/it/app:1\nLABEL second=yes\n`);
  await tsbuildOk(["--root", base, "build", "-q", "--push", "-t", `${reg.host}/it/app:2`, ctx]);
  const other = await emptyStore();
  await tsbuildOk(["--root", other, "pull", `${reg.host}/it/app:1`]);
  const counts: Record<string, number> = {};
  const store = await ContentStore.open(storePaths(other));
  const r = await pullImage(store, `${reg.host}/it/app:2`, { connect: counting(counts) });
  assert.equal(r.fetched, 0);
  assert.equal(counts.openBlob, 1);
  assert.equal(counts.getManifest, 1);
  assert.equal(r.imageId, await inspectField(base, `${reg.host}/it/app:2`, "Id"));
});

test("an index: linux/amd64 by default, --platform picks another, a missing platform lists what there is", async () => {
  const repo = openRepository({ domain: reg.host, path: "it/app" });
  const amd = await repo.getManifest("1");
  const manifest = JSON.parse(amd.bytes.toString()) as ImageManifest;
  const amdConfig = JSON.parse(await readFile(join(base, "blobs", "sha256", manifest.config.digest.slice(7)), "utf8")) as { rootfs: unknown };
  const armConfig = Buffer.from(JSON.stringify({ architecture: "arm64", variant: "v8", os: "linux", rootfs: amdConfig.rootfs }));
  const armConfigDigest = sha256(armConfig);
  await repo.pushBlob({ digest: armConfigDigest, size: armConfig.length }, () => Readable.from([armConfig]));
  const armManifest = Buffer.from(JSON.stringify({ ...manifest, config: { mediaType: MediaType.ociConfig, digest: armConfigDigest, size: armConfig.length } }));
  const armDigest = await repo.putManifest(sha256(armManifest), MediaType.ociManifest, armManifest);
  const index: ImageIndex = {
    schemaVersion: 2, mediaType: MediaType.ociIndex,
    manifests: [
      { mediaType: MediaType.ociManifest, digest: armDigest, size: armManifest.length, platform: { os: "linux", architecture: "arm64", variant: "v8" } },
      { mediaType: amd.mediaType, digest: amd.digest, size: amd.bytes.length, platform: { os: "linux", architecture: "amd64" } },
    ],
  };
  const indexBytes = Buffer.from(JSON.stringify(index));
  const indexDigest = await repo.putManifest("multi", MediaType.ociIndex, indexBytes);

  const other = await emptyStore();
  const pulled = await tsbuildOk(["--root", other, "pull", `${reg.host}/it/app:multi`]);
  assert.match(pulled.stdout, new RegExp(`^Digest: ${indexDigest}$`, "m"));
  assert.equal(await inspectField(other, `${reg.host}/it/app:multi`, "Id"), await inspectField(base, `${reg.host}/it/app:1`, "Id"));
  await tsbuildOk(["--root", other, "pull", "--platform", "linux/arm64", `${reg.host}/it/app:multi`]);
  assert.equal(await inspectField(other, `${reg.host}/it/app:multi`, "Id"), armConfigDigest);
  const bad = await tsbuild(["--root", other, "pull", "--platform", "linux/s390x", `${reg.host}/it/app:multi`]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^error: .*no matching manifest for linux\/s390x in the manifest list entries \(available: linux\/arm64\/v8, linux\/amd64\)$/m);

  const inspected = await tsbuildOk(["manifest", "inspect", `${reg.host}/it/app:multi`]);
  assert.deepEqual(JSON.parse(inspected.stdout), index);
  const verbose = JSON.parse((await tsbuildOk(["manifest", "inspect", "-v", `${reg.host}/it/app:multi`])).stdout) as Array<{ Ref: string; Descriptor: { platform: { architecture: string } } }>;
  assert.deepEqual(verbose.map((e) => e.Descriptor.platform.architecture), ["arm64", "amd64"]);
  assert.equal(verbose[1]!.Ref, `${reg.host}/it/app@${amd.digest}`);
});

test("FROM pulls a missing base image; a base no registry has is the FROM line's error, store untouched", async () => {
  const other = await emptyStore();
  const ctx = await context(`FROM ${reg.host}/it/app:1\nRUN cat /f > /g\n`);
  const r = await tsbuildOk(["--root", other, "build", "--progress", "plain", "-t", "derived:1", ctx]);
  assert.match(r.stderr, /^1: Pulling from it\/app$/m);
  assert.equal((await tsbuildOk(["--root", other, "run", "--rm", "derived:1", "cat", "/g"])).stdout, "pushed-content\n");

  const before = storeListing(other);
  const bad = await context(`FROM ${reg.host}/it/nope:1\nRUN true\n`);
  const f = await tsbuild(["--root", other, "build", "-t", "x:1", bad]);
  assert.equal(f.code, 1);
  assert.match(f.stderr, new RegExp(`^error: \\S*Dockerfile:1: base image ${reg.host}/it/nope:1: manifest unknown`, "m"));
  assert.deepEqual(storeGrowth(before, storeListing(other)), []);
});

/** An HTTP proxy to `target` that, once 1 MiB of a blob upload went through, cuts it and stops `target` and itself. */
function dyingProxy(target: TestRegistry): Promise<{ host: string; cut(): boolean; close(): Promise<void> }> {
  let killed = false;
  const server = createServer((req, res) => {
    const [hostname, port] = target.host.split(":");
    const up = request({ hostname, port: Number(port), method: req.method, path: req.url, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on("error", () => res.destroy());
    let seen = 0;
    if ((req.method === "PATCH" || req.method === "PUT") && (req.url ?? "").includes("/blobs/uploads/")) {
      req.on("data", (c: Buffer) => {
        seen += c.length;
        if (seen > 1 << 20 && !killed) {
          killed = true;
          up.destroy();
          req.socket.destroy();
          server.close();
          void target.stop();
        }
      });
    }
    req.pipe(up);
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => {
    const addr = server.address();
    const port = typeof addr === "object" && addr !== null ? addr.port : 0;
    ok({ host: `127.0.0.1:${port}`, cut: () => killed, close: () => new Promise<void>((done) => { server.closeAllConnections(); server.close(() => done()); if (!server.listening) done(); }) });
  }));
}

test("a registry that dies mid-push: the push fails cleanly, no temporary file, store unchanged", async () => {
  const dying = await startRegistry();
  const proxy = await dyingProxy(dying);
  try {
    const ctx = await context("FROM busybox:local\nRUN head -c 24000000 /dev/urandom > /big\n");
    await tsbuildOk(["--root", base, "build", "-q", "-t", `${proxy.host}/it/big:1`, ctx]);
    const before = storeListing(base);
    const r = await tsbuild(["--root", base, "push", `${proxy.host}/it/big:1`]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /: Preparing$/m);
    assert.match(r.stderr, /^error: /m);
    assert.equal(proxy.cut(), true, "the upload was cut mid-way");
    assert.deepEqual(await readdir(join(base, "tmp")), []);
    assert.deepEqual(storeGrowth(before, storeListing(base)), []);
  } finally {
    await proxy.close();
    await dying.stop();
  }
});

test("skopeo copies what tsbuild pushed; tsbuild pulls and runs what skopeo pushed", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tsbuild-pullpush-oci-"));
  cleanup.push(dir);
  execFileSync("skopeo", ["copy", "--src-tls-verify=false", `docker://${reg.host}/it/app:1`, `oci:${dir}:x`], { stdio: "pipe" });
  const info = JSON.parse(execFileSync("skopeo", ["inspect", "--tls-verify=false", `docker://${reg.host}/it/app:1`], { encoding: "utf8" })) as { Layers: string[]; Architecture: string };
  assert.equal(info.Layers.length, 2);
  assert.equal(info.Architecture, "amd64");
  const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8")) as ImageIndex;
  assert.equal(index.manifests.length, 1);

  // A runnable image written by another tool: umoci lays the busybox rootfs out as an OCI layout.
  const layout = join(await mkdtemp(join(tmpdir(), "tsbuild-pullpush-umoci-")), "layout");
  cleanup.push(dirname(layout));
  const bundle = join(dirname(layout), "bundle");
  execFileSync("umoci", ["init", "--layout", layout], { stdio: "pipe" });
  execFileSync("umoci", ["new", "--image", `${layout}:bb`], { stdio: "pipe" });
  execFileSync("umoci", ["unpack", "--image", `${layout}:bb`, bundle], { stdio: "pipe" });
  execFileSync("tar", ["-xf", await busyboxRootfs(), "-C", join(bundle, "rootfs")], { stdio: "pipe" });
  execFileSync("umoci", ["repack", "--image", `${layout}:bb`, bundle], { stdio: "pipe" });
  execFileSync("umoci", ["config", "--image", `${layout}:bb`, "--config.env", "PATH=/bin", "--config.cmd", "sh"], { stdio: "pipe" });
  execFileSync("skopeo", ["copy", "--dest-tls-verify=false", `oci:${layout}:bb`, `docker://${reg.host}/sk/busybox:1`], { stdio: "pipe" });
  const other = await emptyStore();
  await tsbuildOk(["--root", other, "pull", `${reg.host}/sk/busybox:1`]);
  const hi = await tsbuildOk(["--root", other, "run", "--rm", `${reg.host}/sk/busybox:1`, "echo", "hi"]);
  assert.equal(hi.stdout, "hi\n");
  // its history and sizes read the compressed layer
  const history = await tsbuildOk(["--root", other, "history", `${reg.host}/sk/busybox:1`]);
  assert.match(history.stdout, /umoci repack\s+1\.\d+MB/);
});
