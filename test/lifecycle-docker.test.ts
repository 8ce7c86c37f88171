// The lifecycle commands against bin/tsbuild, compared with what Docker 26 prints for the same steps
// (recorded from the oracle by hand): sizes are file-content sizes and agree between images, inspect,
// history and system df; `rmi ID` refuses an id with several tags (even in one repository) and prints
// `Deleted:` for the image and for each layer it really frees (by chain id); -f on an image a stopped
// container uses only untags it; inspect's Config has Docker's fields; images -q prints one line a row.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { storePaths } from "../common/storepaths.js";
import { humanSize } from "../cli/format.js";
import { ContentStore } from "../image/store.js";
import { mountsUnder, unmount } from "../runtime/mounts.js";
import { Snapshotter } from "../runtime/snapshotter.js";
import type { Digest } from "../common/digest.js";

const here = dirname(fileURLToPath(import.meta.url));
const BIN = join(here, "..", "bin", "tsbuild");
const MAKE_ROOTFS = join(here, "..", "testdata", "busybox", "make-rootfs.sh");
let dir: string;
let root: string;

async function ts(args: string[], input: string | Buffer = ""): Promise<{ code: number; out: string; err: string }> {
  const r = await execa(BIN, ["--root", root, ...args], { reject: false, input, stripFinalNewline: false });
  return { code: r.exitCode ?? -1, out: String(r.stdout), err: String(r.stderr) };
}

async function ok(args: string[], input?: string | Buffer): Promise<string> {
  const r = await ts(args, input);
  assert.equal(r.code, 0, `tsbuild ${args.join(" ")}: ${r.err}`);
  return r.out;
}

async function fails(args: string[], message: RegExp, input?: string | Buffer): Promise<void> {
  const r = await ts(args, input);
  assert.equal(r.code, 1, `tsbuild ${args.join(" ")} should fail: ${r.out}`);
  assert.match(r.err, message);
  assert.doesNotMatch(r.err, /\n\s+at /, "no stack trace");
}

/** index.json, the blob names and tmp/: what a refused command must leave as it was. */
async function storeState(): Promise<string> {
  return JSON.stringify([await readFile(join(root, "index.json"), "utf8"), (await readdir(join(root, "blobs", "sha256"))).sort(), await readdir(join(root, "tmp"))]);
}

const inspectOne = async (ref: string, format: string): Promise<string> => (await ok(["inspect", "-f", format, ref])).trimEnd();

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "tsbuild-lifecycle-docker-"));
  root = join(dir, "store");
  await execa(MAKE_ROOTFS, [join(dir, "bb.tar")]);
  await ok(["import", join(dir, "bb.tar"), "busybox:latest", "--change", 'CMD ["sh"]']);
  const ctx = join(dir, "ctx");
  await mkdir(ctx);
  await writeFile(join(ctx, "Dockerfile"), "FROM busybox:latest\nRUN echo step1 > /step1\nENV APP=1\n");
  await ok(["build", "-q", "-t", "app:1", ctx]);
  // A tiny root filesystem whose layer no other image has.
  await mkdir(join(dir, "uniq"));
  await writeFile(join(dir, "uniq", "only-here.txt"), "unique content\n");
  await execa("tar", ["-C", join(dir, "uniq"), "-cf", join(dir, "uniq.tar"), "."]);
});

after(async () => {
  for (const m of await mountsUnder(dir)) await unmount(m);
  await rm(dir, { recursive: true, force: true });
});

test("sizes agree: images, inspect .Size, history -H=false and system df count file contents", async () => {
  const size = Number(await inspectOne("app:1", "{{.Size}}"));
  const [header, ...history] = (await ok(["history", "-H=false", "app:1"])).trimEnd().split("\n");
  const at = header!.indexOf("SIZE");
  const historySum = history.map((l) => Number(l.slice(at).split(" ")[0])).reduce((a, b) => a + b, 0);
  assert.match(history[0]!, /^[0-9a-f]{12}\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s/, "CREATED AT in RFC 3339 seconds, as Docker");
  assert.equal(historySum, size);
  assert.equal(size, Number(await inspectOne("busybox:latest", "{{.Size}}")) + "step1\n".length);
  assert.match(await ok(["images", "app"]), new RegExp(`^app\\s+1\\s+[0-9a-f]{12}\\s+.*ago\\s+${humanSize(size).replace(".", "\\.")}$`, "m"));
  const df = await ok(["system", "df", "-v"]);
  assert.match(df, /^Layers space usage:\n\nLAYER\s+SIZE\s+SHARED BY$/m);
  const bbLayer = (await inspectOne("busybox:latest", "{{index .RootFS.Layers 0}}")).slice(7, 19);
  assert.match(df, new RegExp(`^${bbLayer}\\s+1\\.984MB\\s+2$`, "m"), "the busybox layer once, shared by 2 images");
  assert.match(df, /^CACHE ID\s+CACHE TYPE\s+SIZE\s+CREATED\s+LAST USED\s+SHARED\n[0-9a-f]{12}\s+regular\s+6B\s+.*\strue$/m);
  assert.match(await ok(["system", "df"]), /^Build Cache\s+1\s+0\s+6B\s+0B$/m, "the cache entry an image holds is not reclaimable");
});

test("images: -q one line a row, --digests, --no-trunc, reference filters, --format json and templates", async () => {
  await ok(["tag", "app:1", "app:2"]);
  const id = (await inspectOne("app:1", "{{.Id}}")).slice(7, 19);
  assert.deepEqual((await ok(["images", "-q", "app"])).trim().split("\n"), [id, id]);
  const digest = (await inspectOne("app:1", "{{index .RepoDigests 0}}")).replace(/^app@/, "");
  assert.match(digest, /^sha256:[0-9a-f]{64}$/);
  assert.match(await ok(["images", "--digests", "app:1"]), new RegExp(`^REPOSITORY\\s+TAG\\s+DIGEST\\s+IMAGE ID\\s+CREATED\\s+SIZE\napp\\s+1\\s+${digest}\\s+${id}\\s`));
  assert.match(await ok(["images", "--no-trunc", "app:1"]), /^app\s+1\s+sha256:[0-9a-f]{64}\s/m);
  assert.equal(await ok(["images", "-f", "reference=app:*", "--format", "{{.Repository}}:{{.Tag}}"]), "app:1\napp:2\n");
  assert.equal(await ok(["images", "-f", "reference=busy*", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}"]), "busybox:latest 1.98MB\n");
  const json = JSON.parse((await ok(["images", "--format", "json", "busybox"])).trim()) as Record<string, string>;
  assert.deepEqual(Object.keys(json), ["Containers", "CreatedAt", "CreatedSince", "Digest", "ID", "Repository", "SharedSize", "Size", "Tag", "UniqueSize", "VirtualSize"]);
  assert.match(json.CreatedAt!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC$/);
  assert.equal(json.VirtualSize, "1.984MB");
  await fails(["images", "-f", "dangling=maybe"], /^error: invalid filter 'dangling=maybe'/);
  // Docker's management-command spellings.
  assert.equal(await ok(["image", "ls", "-q", "app"]), await ok(["images", "-q", "app"]));
  assert.equal(await ok(["image", "inspect", "-f", "{{.Config.Cmd}}", "busybox:latest"]), "[sh]\n");
  assert.equal(await ok(["container", "run", "--rm", "busybox:latest", "echo", "via container run"]), "via container run\n");
  assert.match(await ok(["container", "ls", "-a"]), /^CONTAINER ID\s+IMAGE\s+COMMAND/);
  await fails(["image", "rm", "nope:1"], /^error: No such image: nope:1$/m);
  assert.equal(await ok(["rmi", "app:2"]), "Untagged: app:2\n");
});

test("inspect: Docker's Config fields, templates, NAME@DIGEST, unknown and bad names", async () => {
  assert.equal(await inspectOne("busybox:latest", "{{.Config.Cmd}} {{.Config.Entrypoint}} {{.Config.Labels}}"), "[sh] [] map[]");
  const config = JSON.parse(await inspectOne("app:1", "{{json .Config}}")) as Record<string, unknown>;
  assert.deepEqual(Object.keys(config).slice(0, 6), ["Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr"]);
  assert.ok((config.Env as string[]).includes("APP=1"));
  assert.equal(config.Volumes, null);
  assert.match(await inspectOne("app:1", "{{.RootFS.Layers}}"), /^\[sha256:[0-9a-f]{64} sha256:[0-9a-f]{64}\]$/);
  const byDigest = await inspectOne(await inspectOne("app:1", "{{index .RepoDigests 0}}"), "{{.Id}}");
  assert.equal(byDigest, await inspectOne("app:1", "{{.Id}}"));
  const missing = await ts(["inspect", "nope:1"]);
  assert.equal(missing.code, 1);
  assert.equal(missing.out, "[]\n");
  assert.equal(missing.err, "error: No such image: nope:1\n");
  await fails(["inspect", "Bad:Ref"], /^error: "Bad:Ref" is not a valid repository\/tag: invalid reference format: repository name must be lowercase$/m);
  await fails(["history", "a b"], /invalid reference format/);
});

test("rmi: an id with two tags of one repository needs -f; freed layers are listed by chain id, shared ones stay", async () => {
  await ok(["tag", "app:1", "app:other"]);
  const id = await inspectOne("app:1", "{{.Id}}");
  const before = await storeState();
  await fails(["rmi", id.slice(7, 19)], /^error: conflict: unable to delete [0-9a-f]{12} \(must be forced\) - image is referenced in multiple repositories$/m);
  assert.equal(await storeState(), before);
  assert.equal(await ok(["rmi", "app:other"]), "Untagged: app:other\n");

  const uniqId = (await ok(["import", join(dir, "uniq.tar"), "uniq:1"])).trim();
  const [uniqLayer] = JSON.parse(await inspectOne("uniq:1", "{{json .RootFS.Layers}}")) as string[];
  // unpacked at import, as docker import does (a one-layer image's chain id is its layer's diff id)
  assert.ok(await new Snapshotter(storePaths(root)).has(uniqLayer as Digest), "the imported layer is a snapshot already");
  await ok(["save", "uniq:1", "-o", join(dir, "uniq-saved.tar")]);
  assert.equal(await ok(["rmi", "uniq:1"]), `Untagged: uniq:1\nDeleted: ${uniqId}\nDeleted: ${uniqLayer}\n`);
  await assert.rejects(stat(join(root, "blobs", "sha256", uniqLayer!.slice(7))), /ENOENT/);
  assert.equal(await new Snapshotter(storePaths(root)).has(uniqLayer as Digest), false, "rmi frees the snapshot with the layer");
  // and at load, as docker load does
  await ok(["load", "-q", "-i", join(dir, "uniq-saved.tar")]);
  assert.ok(await new Snapshotter(storePaths(root)).has(uniqLayer as Digest), "a loaded layer is a snapshot already");
  await ok(["rmi", "uniq:1"]);

  // The same root filesystem as busybox:latest: its layer stays, so only the image is deleted.
  const sharedId = (await ok(["import", join(dir, "bb.tar"), "shared:1", "--change", 'CMD ["true"]'])).trim();
  assert.equal(await ok(["rmi", "shared:1"]), `Untagged: shared:1\nDeleted: ${sharedId}\n`);
  assert.match(await ok(["run", "--rm", "busybox:latest", "echo", "still-here"]), /^still-here$/m);
});

test("rmi -f of an image a stopped container uses only untags it; image prune lists what it frees", async () => {
  const heldId = (await ok(["import", join(dir, "uniq.tar"), "held:1", "--change", 'CMD ["x"]'])).trim();
  const run = await ts(["run", "--name", "holder", "held:1", "/nonexistent"]);
  assert.notEqual(run.code, 0);
  await fails(["rmi", "held:1"], /conflict: unable to remove repository reference "held:1" \(must force\) - container [0-9a-f]{12} is using its referenced image [0-9a-f]{12}/);
  assert.equal(await ok(["rmi", "-f", "held:1"]), "Untagged: held:1\n");
  assert.match(await ok(["images", "-f", "dangling=true"]), new RegExp(`^<none>\\s+<none>\\s+${heldId.slice(7, 19)}\\s`, "m"));
  assert.equal((await ok(["image", "prune", "-f"])).startsWith("Deleted Images:"), false, "a container still uses it");
  assert.equal(await ok(["rm", "holder"]), "holder\n");
  const [layer] = JSON.parse(await inspectOne(heldId, "{{json .RootFS.Layers}}")) as string[];
  const pruned = await ok(["image", "prune", "-f"]);
  assert.match(pruned, new RegExp(`^Deleted Images:\ndeleted: ${heldId}\ndeleted: ${layer}\n\nTotal reclaimed space: 15B\n$`), "the content of only-here.txt");
});

test("import from - (stdin); garbage, non-image and truncated archives leave the store as it was", async () => {
  const id = (await ok(["import", "-", "stdin:1", "--change", 'CMD ["sh"]'], await readFile(join(dir, "bb.tar")))).trim();
  assert.match(id, /^sha256:[0-9a-f]{64}$/);
  assert.match(await ok(["history", "stdin:1"]), /\s1\.98MB\s+Imported from -$/m);
  assert.equal(await inspectOne("stdin:1", "{{index .RootFS.Layers 0}}"), await inspectOne("busybox:latest", "{{index .RootFS.Layers 0}}"));
  const before = await storeState();
  await fails(["import", "-", "junk:1"], /^error: -: not a valid tar archive/m, Buffer.alloc(4096, 7));
  await fails(["import", "-", "empty:1"], /^error: -: empty input, not a tar archive$/m, "");
  await fails(["load", "-i", join(dir, "uniq.tar")], /^error: .*uniq\.tar: not an image archive \(no manifest\.json or oci-layout\)$/m);
  await fails(["load", "-i", join(dir, "ctx", "Dockerfile")], /^error: .*Dockerfile: not an image archive \(not a tar file: /m);
  await ok(["save", "app:1", "-o", join(dir, "app.tar")]);
  await truncate(join(dir, "app.tar"), Math.floor((await stat(join(dir, "app.tar"))).size / 2));
  await fails(["load", "-i", join(dir, "app.tar")], /^error: .*app\.tar: tar archive truncated/m);
  await fails(["save", "app:1", "-o", join(dir, "no-such-dir", "x.tar")], /^error: cannot write .*x\.tar: no such directory /m);
  await fails(["save", "app:1", "-o", dir], /^error: cannot write .*: it is a directory$/m);
  await fails(["save", "nope:1", "-o", join(dir, "nope.tar")], /^error: No such image: nope:1$/m);
  await assert.rejects(stat(join(dir, "nope.tar")), /ENOENT/);
  assert.equal(await storeState(), before);
});

test("a short id prefix: any unambiguous length names an image, an ambiguous one is refused", async () => {
  const store = await ContentStore.open(storePaths(root));
  // Images without layers, made until two ids share a first hex digit (at most 17).
  const made: string[] = [];
  let shared: string | undefined;
  for (let i = 0; shared === undefined; i++) {
    const rec = await store.putImage({ architecture: "amd64", os: "linux", config: { Cmd: [`c${i}`] }, rootfs: { type: "layers", diff_ids: [] } }, []);
    made.push(rec.configDigest.slice(7));
    const firsts = (await store.listImages()).map((r) => r.configDigest.slice(7, 8));
    shared = firsts.find((c, j) => firsts.indexOf(c) !== j);
  }
  await fails(["inspect", shared], /^error: image id prefix [0-9a-f] is ambiguous \(\d+ images match\)$/m);
  const one = made[0]!;
  assert.equal(await inspectOne(one.slice(0, 20), "{{.Id}}"), `sha256:${one}`);
});
