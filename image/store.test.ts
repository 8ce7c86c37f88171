import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, rm, mkdtemp } from "node:fs/promises";
import { createReadStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { tmpdir } from "node:os";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { sha256, sha256File } from "../common/digest.js";
import { storePaths } from "../common/storepaths.js";
import { ImageNotFoundError } from "../common/errors.js";
import { DigestMismatchError } from "./blobs.js";
import { ContentStore } from "./store.js";
import { Annotation, MediaType, type ImageConfig, type ImageIndex } from "./config.js";
import { fakeImage, withStore } from "./testutil.js";
import { ownerToken } from "../common/owner.js";

const run = promisify(execFile);

test("open creates an OCI layout", async () => {
  await withStore(async (store, root) => {
    assert.deepEqual(JSON.parse(await readFile(join(root, "oci-layout"), "utf8")), { imageLayoutVersion: "1.0.0" });
    const index = JSON.parse(await readFile(join(root, "index.json"), "utf8")) as ImageIndex;
    assert.equal(index.schemaVersion, 2);
    assert.deepEqual(index.manifests, []);
    await ContentStore.open(store.paths); // idempotent
  });
});

test("blobs: write, read, dedupe", async () => {
  await withStore(async (store) => {
    const d = await store.writeBlob("hello", "text/plain");
    assert.equal(d.digest, sha256("hello"));
    assert.equal(d.size, 5);
    assert.equal(await store.has(d.digest), true);
    assert.equal((await store.readBlob(d.digest)).toString(), "hello");
    await store.writeBlob(Buffer.from("hello"));
    assert.deepEqual(await store.readJson<number[]>((await store.writeBlob("[1,2]")).digest), [1, 2]);
    assert.equal(await store.has(sha256("nope")), false);
    assert.deepEqual(await readdir(store.paths.tmp), []);
  });
});

test("ingest streams, verifies, and leaves nothing on mismatch", async () => {
  await withStore(async (store) => {
    const ok = store.ingest();
    await ok.append("abc");
    await ok.append(Buffer.from("def"));
    assert.deepEqual(await ok.commit(sha256("abcdef")), { digest: sha256("abcdef"), size: 6 });
    assert.equal((await store.readBlob(sha256("abcdef"))).toString(), "abcdef");

    const piped = store.ingest();
    await pipeline(createReadStream("/etc/hostname"), piped);
    const r = await piped.commit();
    assert.equal(r.digest, await sha256File("/etc/hostname"));

    const bad = store.ingest();
    await bad.append("xyz");
    await assert.rejects(bad.commit(sha256("other")), DigestMismatchError);
    assert.equal(await store.has(sha256("xyz")), false);
    await bad.abort();

    const dropped = store.ingest();
    await dropped.append("dropped");
    await dropped.abort();
    assert.equal(await store.has(sha256("dropped")), false);
    assert.deepEqual(await readdir(store.paths.tmp), []);

    // aborted before its file was even opened (a source that fails at once): the late open must not leave it
    for (let i = 0; i < 20; i++) await store.ingest().abort();
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(await readdir(store.paths.tmp), []);
  });
});

test("an ingest's temporary name carries its owner (`<kind>-<pid>.<start>-<hex>`, read by the sweep: common/owner.ts)", async () => {
  await withStore(async (store) => {
    const ingest = store.ingest();
    assert.match(basename(ingest.tempPath), new RegExp(`^ingest-${ownerToken().replace(".", "\\.")}-[0-9a-f]{12}$`));
    await ingest.abort();
  });
});

test("tags, retag leaves a dangling image, untag, resolve", async () => {
  await withStore(async (store) => {
    const a = await fakeImage(store, "a", ["app:1.0"]);
    assert.deepEqual(a.refs, ["docker.io/library/app:1.0"]);
    const index = JSON.parse(await readFile(store.paths.indexJson, "utf8")) as ImageIndex;
    assert.equal(index.manifests.length, 1);
    assert.equal(index.manifests[0]?.annotations?.[Annotation.refName], "docker.io/library/app:1.0");
    assert.equal(index.manifests[0]?.mediaType, MediaType.ociManifest);

    // Lookups: familiar, full, id, id prefix, manifest digest.
    for (const s of ["app:1.0", "docker.io/library/app:1.0", a.configDigest, a.configDigest.slice(7, 19), a.configDigest.slice(7), `app@${a.manifestDigest}`]) {
      assert.equal((await store.resolveImage(s)).configDigest, a.configDigest, s);
    }
    await assert.rejects(store.resolveImage("app:2.0"), (e: unknown) => e instanceof ImageNotFoundError && e.message === "No such image: app:2.0");
    await assert.rejects(store.resolveImage("app"), ImageNotFoundError);

    // Moving the tag leaves the old image dangling.
    const b = await fakeImage(store, "b", ["app:1.0", "localhost:5000/x"]);
    assert.equal((await store.resolveImage("app:1.0")).configDigest, b.configDigest);
    const list = await store.listImages();
    assert.equal(list.length, 2);
    const old = list.find((r) => r.configDigest === a.configDigest);
    assert.deepEqual(old?.refs, []);
    assert.deepEqual(list.find((r) => r.configDigest === b.configDigest)?.refs.sort(), ["docker.io/library/app:1.0", "localhost:5000/x:latest"]);
    assert.equal((await store.resolveImage(a.configDigest.slice(7, 20))).configDigest, a.configDigest);

    // Tagging the dangling image again removes its dangling entry.
    await store.tag("old", a.manifestDescriptor);
    const after = JSON.parse(await readFile(store.paths.indexJson, "utf8")) as ImageIndex;
    assert.equal(after.manifests.filter((d) => d.digest === a.manifestDigest).length, 1);
    assert.equal(after.manifests.filter((d) => d.annotations?.[Annotation.dangling] === "true").length, 0);

    // An image built without tags is listed as dangling.
    const c = await fakeImage(store, "c");
    assert.deepEqual(c.refs, []);
    assert.equal((await store.listImages()).length, 3);

    await store.untag("localhost:5000/x");
    assert.deepEqual((await store.resolveImage("app:1.0")).refs, ["docker.io/library/app:1.0"]);
    await assert.rejects(store.untag("localhost:5000/x"), ImageNotFoundError);
    await store.untag("app:1.0"); // last tag: the image goes, as docker rmi
    assert.equal((await store.listImages()).some((r) => r.configDigest === b.configDigest), false);
    // Its manifest is still in blobs/: a digest reference finds it; a digest of a non-manifest blob does not.
    assert.equal((await store.resolveImage(`app@${b.manifestDigest}`)).configDigest, b.configDigest);
    await assert.rejects(store.resolveImage(`app@${b.config.rootfs.diff_ids[0]}`), ImageNotFoundError);

    assert.deepEqual(await store.removeImage(a.configDigest), ["docker.io/library/old:latest"]);
    await assert.rejects(store.resolveImage(a.configDigest), ImageNotFoundError);
    assert.equal((await store.referencedBlobs()).has(c.configDigest), true);
    await assert.rejects(store.tag(`app@${c.manifestDigest}`, c.manifestDescriptor), /digest reference/);
  });
});

test("concurrent taggings all land (async and across processes)", async () => {
  await withStore(async (store) => {
    const imgs = await Promise.all(Array.from({ length: 8 }, (_, i) => fakeImage(store, `s${i}`)));
    await Promise.all(imgs.map((img, i) => store.tag(`app:${i}`, img.manifestDescriptor)));
    const script = `
      import { ContentStore } from "${join(process.cwd(), "image/store.ts")}";
      import { storePaths } from "${join(process.cwd(), "common/storepaths.ts")}";
      const s = await ContentStore.open(storePaths(process.argv[1]));
      const img = await s.resolveImage("app:0");
      for (let i = 0; i < 10; i++) await s.tag("proc" + process.argv[2] + ":" + i, img.manifestDescriptor);
    `;
    await Promise.all(["a", "b", "c"].map((p) => run(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script, store.paths.root, p], { cwd: process.cwd() })));
    const refs = (await store.listImages()).flatMap((r) => r.refs);
    assert.equal(refs.length, 8 + 30);
    for (const p of ["a", "b", "c"]) for (let i = 0; i < 10; i++) assert.ok(refs.includes(`docker.io/library/proc${p}:${i}`));
    assert.equal((await store.listImages()).length, 8);
  });
});

test("skopeo and umoci read the store with tsbuild's folders beside the layout", async () => {
  await withStore(async (store, root) => {
    // A real root filesystem (made from Debian's busybox-static), so that umoci can unpack and list it.
    const rootfs = join(root, "busybox-rootfs.tar");
    await run(join(dirname(fileURLToPath(import.meta.url)), "..", "testdata", "busybox", "make-rootfs.sh"), [rootfs]);
    const ingest = store.ingest();
    await pipeline(createReadStream(rootfs), ingest);
    const layer = await ingest.commit();
    const config: ImageConfig = {
      architecture: "amd64", os: "linux", config: { Cmd: ["sh"], Env: ["PATH=/bin"] },
      rootfs: { type: "layers", diff_ids: [layer.digest] }, history: [{ created_by: "import" }],
    };
    const img = await store.putImage(config, [{ mediaType: MediaType.ociLayer, ...layer }], ["app:1.0"]);
    await fakeImage(store, "dangling");
    const { stdout } = await run("skopeo", ["inspect", `oci:${root}:docker.io/library/app:1.0`]);
    const info = JSON.parse(stdout) as { Layers: string[]; Os: string };
    assert.deepEqual(info.Layers, [layer.digest]);
    const ls = await run("umoci", ["ls", "--layout", root]);
    assert.deepEqual(ls.stdout.trim().split("\n"), ["docker.io/library/app:1.0"]);
    const out = await mkdtemp(join(tmpdir(), "tsbuild-umoci-"));
    try {
      await run("umoci", ["unpack", "--image", `${root}:docker.io/library/app:1.0`, join(out, "bundle")]);
      assert.ok((await readdir(join(out, "bundle", "rootfs", "bin"))).includes("busybox"));
    } finally {
      await rm(out, { recursive: true, force: true });
    }
    assert.equal(img.refs[0], "docker.io/library/app:1.0");
  });
});
