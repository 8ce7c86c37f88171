// Interop with the rest of the OCI world, no Docker daemon needed (skopeo and umoci are Debian
// packages the Makefile's system-deps installs): the store is an OCI layout skopeo and umoci read as
// it is; tsbuild's save files are what skopeo expects; what skopeo writes, tsbuild loads.
// Docker itself: test/interop-docker.test.ts (`make interop`).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freshStore, removeStore, tsbuildOk } from "./helpers.js";
import { summarizeArchive, type FileEntry } from "./imgtree.js";

const run = promisify(execFile);
const IMAGE = "interop:1";
const FULL = "docker.io/library/interop:1";

let dir: string;
let root: string;
let id: string;
let diffIds: string[];

async function ts(storeRoot: string, args: string[]): Promise<string> {
  return (await tsbuildOk(["--root", storeRoot, ...args])).stdout;
}

async function idAndLayers(storeRoot: string, ref: string): Promise<{ id: string; layers: string[] }> {
  const [inspected] = JSON.parse(await ts(storeRoot, ["inspect", ref])) as { Id: string; RootFS: { Layers: string[] } }[];
  assert.ok(inspected, `${ref} is in ${storeRoot}`);
  return { id: inspected.Id, layers: inspected.RootFS.Layers };
}

/** An image config with its times as numbers (Go writes `.75Z` where JavaScript writes `.750Z`). */
async function configOf(storeRoot: string, imageId: string): Promise<unknown> {
  const text = await readFile(join(storeRoot, "blobs", "sha256", imageId.slice(7)), "utf8");
  return JSON.parse(text, (key, value: unknown) => (key === "created" && typeof value === "string" ? Date.parse(value) : value));
}

/** A folder as imgtree.ts summarises an image: path → type, mode, owner, size, sha256, link, device. */
async function walkTree(top: string): Promise<Record<string, FileEntry>> {
  const out: Record<string, FileEntry> = {};
  async function visit(rel: string): Promise<void> {
    for (const name of (await readdir(join(top, rel))).sort()) {
      const path = `${rel}/${name}`;
      const st = await lstat(join(top, path));
      const e: FileEntry = { mode: `0o${(st.mode & 0o7777).toString(8)}`, uid: st.uid, gid: st.gid };
      if (st.isDirectory()) e.type = "dir";
      else if (st.isSymbolicLink()) Object.assign(e, { type: "symlink", link: await readlink(join(top, path)) });
      else if (st.isFile()) {
        const sha256 = createHash("sha256").update(await readFile(join(top, path))).digest("hex");
        Object.assign(e, { type: "file", size: st.size, sha256 });
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        Object.assign(e, { type: st.isCharacterDevice() ? "chr" : "blk", dev: [Math.floor(st.rdev / 256) & 0xfff, st.rdev & 0xff] });
      } else if (st.isFIFO()) e.type = "fifo";
      out[path] = e;
      if (st.isDirectory()) await visit(path);
    }
  }
  await visit("");
  return out;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "tsbuild-interop-"));
  root = await freshStore();
  const ctx = join(dir, "ctx");
  await mkdir(ctx);
  await writeFile(join(ctx, "greeting.txt"), "hi there\n");
  // Layers with what trips exporters up: a symlink, a hardlink, modes, a non-root owner, a whiteout.
  await writeFile(join(ctx, "Dockerfile"), [
    "FROM busybox:local",
    "RUN mkdir -p /app/sub && echo hello > /app/hello.txt && ln -s hello.txt /app/link && chmod 640 /app/hello.txt \\",
    " && chown 1000:1000 /app/sub && ln /app/hello.txt /app/hard && rm /bin/vi",
    "COPY greeting.txt /app/",
    'CMD ["cat", "/app/hello.txt"]',
    "",
  ].join("\n"));
  await ts(root, ["build", "-q", "-t", IMAGE, ctx]);
  ({ id, layers: diffIds } = await idAndLayers(root, IMAGE));
  assert.equal(diffIds.length, 3);
});

after(async () => {
  if (root) await removeStore(root);
  await rm(dir, { recursive: true, force: true });
});

test("the store's index names images by full reference, as skopeo and umoci expect", async () => {
  const index = JSON.parse(await readFile(join(root, "index.json"), "utf8")) as { manifests: { annotations?: Record<string, string> }[] };
  assert.ok(index.manifests.some((m) => m.annotations?.["org.opencontainers.image.ref.name"] === FULL));
  const { stdout } = await run("umoci", ["ls", "--layout", root]);
  assert.ok(stdout.split("\n").includes(FULL), stdout);
  const inspected = JSON.parse((await run("skopeo", ["inspect", `oci:${root}:${FULL}`])).stdout) as { Layers: string[] };
  assert.deepEqual(inspected.Layers, diffIds, "local layers are uncompressed: digest = diffID");
});

test("skopeo copy from the store to a docker-archive, tsbuild load: same image id and diffIDs", async () => {
  const archive = join(dir, "skopeo-docker.tar");
  await run("skopeo", ["copy", "-q", `oci:${root}:${FULL}`, `docker-archive:${archive}:${IMAGE}`]);
  const other = await mkdtemp(join(tmpdir(), "tsbuild-interop-store-"));
  try {
    assert.equal(await ts(other, ["load", "-i", archive]), `Loaded image: ${IMAGE}\n`);
    assert.deepEqual(await idAndLayers(other, IMAGE), { id, layers: diffIds });
  } finally {
    await removeStore(other);
  }
});

test("skopeo copy of a docker-archive into an OCI layout loads into tsbuild: same config and diffIDs", async () => {
  // skopeo writes gzip layers into an OCI layout, so it writes a layout of its own, never the store
  // (whose layers are uncompressed by design); tsbuild load then takes that layout.
  const archive = join(dir, "tsbuild-docker.tar");
  await ts(root, ["save", IMAGE, "-o", archive]);
  const layout = join(dir, "skopeo-layout");
  await run("skopeo", ["copy", "-q", `docker-archive:${archive}`, `oci:${layout}:docker.io/library/back:1`]);
  const other = await mkdtemp(join(tmpdir(), "tsbuild-interop-store-"));
  try {
    assert.equal(await ts(other, ["load", "-i", layout]), "Loaded image: back:1\n");
    const back = await idAndLayers(other, "back:1");
    assert.deepEqual(back.layers, diffIds);
    // skopeo re-serialises the config (key order), so the id may change; its content may not.
    assert.deepEqual(await configOf(other, back.id), await configOf(root, id));
    const listed = await ts(other, ["history", "back:1"]);
    assert.match(listed, /COPY greeting\.txt \/app\/ # buildkit\s+9B/);
  } finally {
    await removeStore(other);
  }
});

test("tsbuild save (docker and oci formats): skopeo inspects and copies both", async () => {
  const dockerTar = join(dir, "save-docker.tar");
  const ociTar = join(dir, "save-oci.tar");
  await ts(root, ["save", IMAGE, "busybox:local", "-o", dockerTar]);
  await ts(root, ["save", "--format", "oci", IMAGE, "-o", ociTar]);
  const fromDocker = JSON.parse((await run("skopeo", ["inspect", `docker-archive:${dockerTar}:${IMAGE}`])).stdout) as { Layers: string[]; RepoTags?: string[] };
  assert.deepEqual(fromDocker.Layers, diffIds);
  const fromOci = JSON.parse((await run("skopeo", ["inspect", `oci-archive:${ociTar}:1`])).stdout) as { Layers: string[]; Digest: string };
  assert.deepEqual(fromOci.Layers, diffIds);
  const manifestDigest = (await ts(root, ["images", "--digests", "--format", "{{.Digest}}", IMAGE])).trim();
  assert.equal(fromOci.Digest, manifestDigest, "the oci archive holds the store's manifest as it is");
  const copied = join(dir, "copied-layout");
  await run("skopeo", ["copy", "-q", `oci-archive:${ociTar}:1`, `oci:${copied}:x`]);
  await run("skopeo", ["copy", "-q", `docker-archive:${dockerTar}:busybox:local`, `oci:${copied}:bb`]);
  const index = JSON.parse(await readFile(join(copied, "index.json"), "utf8")) as { manifests: unknown[] };
  assert.equal(index.manifests.length, 2);
});

test("umoci unpack of the store gives the same file tree as tsbuild save", async () => {
  const bundle = join(dir, "bundle");
  await run("umoci", ["unpack", "--image", `${root}:${FULL}`, bundle]);
  const unpacked = await walkTree(join(bundle, "rootfs"));
  const archive = join(dir, "tree.tar");
  await ts(root, ["save", IMAGE, "-o", archive]);
  const exported = (await summarizeArchive(archive)).files;
  assert.deepEqual(unpacked, exported);
  assert.equal(unpacked["/bin/vi"], undefined, "the whiteout applied");
  assert.deepEqual(unpacked["/app/sub"], { mode: "0o755", uid: 1000, gid: 1000, type: "dir" });
  assert.deepEqual(unpacked["/app/link"], { mode: "0o777", uid: 0, gid: 0, type: "symlink", link: "hello.txt" });
  assert.equal(unpacked["/app/hard"]?.sha256, unpacked["/app/hello.txt"]?.sha256);
  assert.equal(unpacked["/app/hello.txt"]?.mode, "0o640");
});
