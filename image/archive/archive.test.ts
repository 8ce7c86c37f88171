import { test } from "node:test";
import assert from "node:assert/strict";
import { cp, mkdir, readdir, readFile, rm, mkdtemp, stat, truncate, writeFile } from "node:fs/promises";
import { createReadStream } from "node:fs";
import { Writable } from "node:stream";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { tmpdir } from "node:os";
import { gzipSync } from "node:zlib";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { sha256, type Digest } from "../../common/digest.js";
import { ArchiveError } from "../../common/errors.js";
import { TarWriter, type TarEntry } from "../tar/index.js";
import { withStore } from "../testutil.js";
import type { ContentStore } from "../store.js";
import type { ImageConfig } from "../config.js";
import { importRootfs, loadArchive, saveDockerArchive, saveOciArchive } from "./index.js";

const run = promisify(execFile);
// Archives other tools wrote, committed with how they were made (testdata/fixtures/README.md).
const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "testdata", "fixtures");
const DOCKER_TAR = join(FIXTURES, "docker26-save.tar");
const OCI_DIR = join(FIXTURES, "skopeo-oci");
const ROOTFS_TAR = join(FIXTURES, "hello-rootfs.tar");
// What Docker 26 wrote for fixture:docker26 (docker save): image id, OCI manifest digest, layer diffID.
const DOCKER_ID = "sha256:365e9b75002eed6c8605da639e01add6a965c92b8adbbc01aa6b8e3b483e5e51";
const DOCKER_MANIFEST = "sha256:048f3bd3d1c3ff63a8decb8288ab6038cbe036bc2a635e53ecad14fd8985bf1c";
const DOCKER_DIFF_ID = "sha256:0fc28d5492dd0967d0d5cb0f128395478b55ee57bf1a5867170936a0391e9951";

function entry(path: string, size: number): TarEntry {
  return { path, type: "file", mode: 0o644, uid: 0, gid: 0, size, mtime: 0 };
}

async function tarBuffer(files: [string, Buffer | { symlink: string } | { hardlink: string }][]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const sink = new Writable({ write: (c: Buffer, _e, cb) => { chunks.push(c); cb(); } });
  const w = new TarWriter(sink);
  for (const [p, b] of files) {
    if (Buffer.isBuffer(b)) await w.add(entry(p, b.length), b);
    else if ("symlink" in b) await w.add({ ...entry(p, 0), type: "symlink", linkname: b.symlink });
    else await w.add({ ...entry(p, 0), type: "hardlink", linkname: b.hardlink });
  }
  await w.finish();
  return Buffer.concat(chunks);
}

/** A small docker-archive (old layout: `<id>.json`, `<dir>/layer.tar`), optionally gzipped layer or lying config. */
async function smallDockerArchive(out: string, opts: { gzipLayer?: boolean; wrongDiffId?: boolean; cutLayer?: boolean; tag?: string } = {}): Promise<Digest> {
  const whole = await tarBuffer([["hello.txt", Buffer.from("hello\n")]]);
  // cut: a header and part of the body, no end-of-archive marker (its diffID is still its digest)
  const layer = opts.cutLayer ? whole.subarray(0, 515) : whole;
  const diffId = opts.wrongDiffId ? sha256("not the layer") : sha256(layer);
  const config: ImageConfig = { architecture: "amd64", os: "linux", config: { Cmd: ["cat", "/hello.txt"] }, rootfs: { type: "layers", diff_ids: [diffId] }, history: [{ created_by: "test" }] };
  const configBytes = Buffer.from(JSON.stringify(config));
  const id = sha256(configBytes);
  const manifest = [{ Config: `${id.slice(7)}.json`, RepoTags: [opts.tag ?? "small:1"], Layers: ["l1/layer.tar"] }];
  const tar = await tarBuffer([
    [`${id.slice(7)}.json`, configBytes],
    ["l1/layer.tar", opts.gzipLayer ? gzipSync(layer) : layer],
    ["manifest.json", Buffer.from(JSON.stringify(manifest))],
  ]);
  await writeFile(out, tar);
  return id;
}

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "tsbuild-archive-test-"));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Everything a failed load must leave unchanged. */
async function snapshot(store: ContentStore): Promise<string> {
  return JSON.stringify([await readFile(store.paths.indexJson, "utf8"), (await readdir(store.paths.blobs)).sort(), await readdir(store.paths.tmp)]);
}

test("loads Docker 26's docker save with its tag, id and manifest", async () => {
  await withStore(async (store) => {
    const [img, more] = await loadArchive(store, DOCKER_TAR);
    assert.equal(more, undefined);
    assert.equal(img?.configDigest, DOCKER_ID);
    assert.equal(img?.manifestDigest, DOCKER_MANIFEST);
    assert.deepEqual(img?.refs, ["docker.io/library/fixture:docker26"]);
    assert.equal((await store.resolveImage("fixture:docker26")).config.config?.Cmd?.[0], "cat");
    assert.equal(await store.has(DOCKER_DIFF_ID as Digest), true);
    assert.deepEqual(await readdir(store.paths.tmp), []);
  });
});

test("loads an OCI layout folder: gzip layer stored uncompressed, bare ref.name needs a name", async () => {
  await withStore(async (store) => {
    const [untagged] = await loadArchive(store, OCI_DIR);
    assert.deepEqual(untagged?.refs, []);
    const [img] = await loadArchive(store, OCI_DIR, { name: "bb" });
    assert.deepEqual(img?.refs, ["docker.io/library/bb:fixture"]); // the bare ref.name is the tag
    const layer = img?.manifest.layers[0];
    assert.equal(layer?.mediaType, "application/vnd.oci.image.layer.v1.tar");
    assert.equal(layer?.digest, img?.config.rootfs.diff_ids[0]);
    assert.equal(sha256(await store.readBlob(layer?.digest as Digest)), layer?.digest);
    assert.equal((await store.listImages()).length, 1);
  });
});

test("docker-archive with a gzip layer and old layout loads; save → load round trip keeps ids and tags", async () => {
  await withDir(async (dir) => {
    await withStore(async (store) => {
      const id = await smallDockerArchive(join(dir, "small.tar"), { gzipLayer: true });
      const [small] = await loadArchive(store, join(dir, "small.tar"));
      assert.equal(small?.configDigest, id);
      assert.deepEqual(small?.refs, ["docker.io/library/small:1"]);
      await loadArchive(store, DOCKER_TAR);
      await saveDockerArchive(store, ["small:1", "fixture:docker26", DOCKER_ID.slice(7, 19)], join(dir, "both.tar"));
      await saveOciArchive(store, ["small:1"], join(dir, "oci.tar"));
      await saveDockerArchive(store, ["fixture:docker26"], join(dir, "one.tar"));
      await withStore(async (other) => {
        const recs = await loadArchive(other, join(dir, "both.tar"));
        assert.deepEqual(recs.map((r) => r.configDigest).sort(), [id, DOCKER_ID].sort());
        assert.deepEqual((await other.resolveImage("fixture:docker26")).manifestDigest, DOCKER_MANIFEST);
        assert.deepEqual((await other.resolveImage("small:1")).configDigest, id);
        const [fromOci] = await loadArchive(other, join(dir, "oci.tar"));
        assert.deepEqual(fromOci?.refs, ["docker.io/library/small:1"]);
      });
      const inspected = JSON.parse((await run("skopeo", ["inspect", `docker-archive:${join(dir, "one.tar")}`])).stdout) as { Layers: string[] };
      assert.deepEqual(inspected.Layers, [DOCKER_DIFF_ID]);
      const fromOci = JSON.parse((await run("skopeo", ["inspect", `oci-archive:${join(dir, "oci.tar")}:1`])).stdout) as { Digest: string };
      assert.equal(fromOci.Digest, small?.manifestDigest);
      // Shared layers are stored once in the archive.
      const names = (await run("tar", ["tf", join(dir, "both.tar")])).stdout.split("\n");
      assert.equal(names.filter((n) => n === `blobs/sha256/${DOCKER_DIFF_ID.slice(7)}`).length, 1);
      assert.ok(names.includes("manifest.json") && names.includes("repositories") && names.includes("index.json"));
    });
  });
});

test("truncated, garbage and lying archives are refused and leave the store unchanged", async () => {
  await withDir(async (dir) => {
    await withStore(async (store) => {
      
      await smallDockerArchive(join(dir, "ok.tar"));
      await loadArchive(store, join(dir, "ok.tar"));
      const before = await snapshot(store);
      const size = (await stat(DOCKER_TAR)).size;
      await cp(DOCKER_TAR, join(dir, "truncated.tar"));
      await truncate(join(dir, "truncated.tar"), Math.floor(size / 2));
      await writeFile(join(dir, "garbage.tar"), Buffer.from("this is not a tar archive at all".repeat(40)));
      await writeFile(join(dir, "empty.tar"), "");
      await smallDockerArchive(join(dir, "lying.tar"), { wrongDiffId: true, tag: "lying:1" });
      await smallDockerArchive(join(dir, "cutlayer.tar"), { cutLayer: true, tag: "cut:1" });
      await assert.rejects(loadArchive(store, join(dir, "cutlayer.tar")), /cutlayer\.tar: layer l1\/layer\.tar of cut:1: tar archive truncated/);
      await writeFile(join(dir, "notimage.tar"), await tarBuffer([["hello.txt", Buffer.from("hi")]]));
      await writeFile(join(dir, "badgzip.tar.gz"), gzipSync(await readFile(join(dir, "ok.tar"))).subarray(0, 200));
      for (const bad of ["truncated.tar", "garbage.tar", "empty.tar", "lying.tar", "cutlayer.tar", "notimage.tar", "badgzip.tar.gz", "missing.tar"]) {
        await assert.rejects(loadArchive(store, join(dir, bad)), (e: unknown) => e instanceof ArchiveError && e.message.includes(join(dir, bad)), bad);
        assert.equal(await snapshot(store), before, bad);
      }
      // An OCI layout whose gzip layer is cut short.
      await cp(OCI_DIR, join(dir, "oci"), { recursive: true });
      const index = JSON.parse(await readFile(join(dir, "oci", "index.json"), "utf8")) as { manifests: { digest: string }[] };
      const manifest = JSON.parse(await readFile(join(dir, "oci", "blobs/sha256", (index.manifests[0]?.digest ?? "").slice(7)), "utf8")) as { layers: { digest: string }[] };
      const layerBlob = join(dir, "oci", "blobs/sha256", (manifest.layers[0]?.digest ?? "").slice(7));
      await truncate(layerBlob, Math.floor((await stat(layerBlob)).size / 2));
      await assert.rejects(loadArchive(store, join(dir, "oci"), { name: "x" }), ArchiveError);
      assert.equal(await snapshot(store), before);
    });
  });
});

test("old docker save layout: a layer shared through a symlink loads; a link out of the archive does not", async () => {
  await withDir(async (dir) => {
    await withStore(async (store) => {
      const layer = await tarBuffer([["a.txt", Buffer.from("a")]]);
      const config = (cmd: string): Buffer => Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", config: { Cmd: [cmd] }, rootfs: { type: "layers", diff_ids: [sha256(layer)] } }));
      const [c1, c2] = [config("one"), config("two")];
      const manifest = (second: string): Buffer => Buffer.from(JSON.stringify([
        { Config: "c1.json", RepoTags: ["one:1"], Layers: ["l1/layer.tar"] },
        { Config: "c2.json", RepoTags: ["two:1"], Layers: [second] },
      ]));
      await writeFile(join(dir, "shared.tar"), await tarBuffer([
        ["c1.json", c1], ["c2.json", c2], ["l1/layer.tar", layer], ["l2/layer.tar", { symlink: "../l1/layer.tar" }], ["manifest.json", manifest("l2/layer.tar")],
      ]));
      const recs = await loadArchive(store, join(dir, "shared.tar"));
      assert.deepEqual(recs.map((r) => r.refs[0]), ["docker.io/library/one:1", "docker.io/library/two:1"]);
      assert.deepEqual(recs.map((r) => r.configDigest), [sha256(c1), sha256(c2)]);
      const before = await snapshot(store);
      await writeFile(join(dir, "escape.tar"), await tarBuffer([
        ["c1.json", c1], ["c2.json", c2], ["l1/layer.tar", layer], ["l2/layer.tar", { symlink: ROOTFS_TAR }], ["manifest.json", manifest("l2/layer.tar")],
      ]));
      await assert.rejects(loadArchive(store, join(dir, "escape.tar")), /archive member l2\/layer.tar is missing/);
      await writeFile(join(dir, "dotdot.tar"), await tarBuffer([["../evil", Buffer.from("x")]]));
      await assert.rejects(loadArchive(store, join(dir, "dotdot.tar")), /leads outside the archive/);
      // Members under a symlink the archive made would be written through it, outside the load folder.
      const canary = join(dir, "canary");
      await mkdir(canary);
      await writeFile(join(canary, "secret"), "host\n");
      await writeFile(join(dir, "through-link.tar"), await tarBuffer([["l", { symlink: canary }], ["l/pwned", Buffer.from("x")]]));
      await assert.rejects(loadArchive(store, join(dir, "through-link.tar")), /archive member l\/pwned lies under l, which is not a folder/);
      await writeFile(join(dir, "hardlink-out.tar"), await tarBuffer([["l", { symlink: canary }], ["h", { hardlink: "l/secret" }]]));
      await assert.rejects(loadArchive(store, join(dir, "hardlink-out.tar")), /archive member h lies under l/);
      assert.deepEqual(await readdir(canary), ["secret"]);
      assert.equal(await snapshot(store), before);
    });
  });
});

test("importRootfs: gzip stream with changes and a tag, like docker import; garbage refused", async () => {
  await withDir(async (dir) => {
    await withStore(async (store) => {
      await writeFile(join(dir, "rootfs.tar.gz"), gzipSync(await readFile(ROOTFS_TAR)));
      const img = await importRootfs(store, createReadStream(join(dir, "rootfs.tar.gz")), "imported:1", {
        changes: { Cmd: ["sh"], Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] },
      });
      // The fixture's rootfs tar is what Docker imported as fixture:docker26: same diffID.
      assert.deepEqual(img.config.rootfs.diff_ids, [DOCKER_DIFF_ID]);
      assert.equal(img.config.history?.[0]?.comment, "Imported from -");
      assert.deepEqual(img.refs, ["docker.io/library/imported:1"]);
      assert.deepEqual(img.config.config?.Cmd, ["sh"]);
      const fromFile = await importRootfs(store, ROOTFS_TAR);
      assert.deepEqual(fromFile.refs, []);
      const before = await snapshot(store);
      await writeFile(join(dir, "junk"), Buffer.alloc(3000, 7));
      await assert.rejects(importRootfs(store, join(dir, "junk"), "junk:1"), ArchiveError);
      assert.equal(await snapshot(store), before);
    });
  });
});
