// Runs bin/tsbuild (compiled: `npx tsc -p tsconfig.json` first) against a temporary store. Expectations
// from Docker 26 (the oracle): history shows the id on the newest row only, `<missing>` below, CREATED BY
// cut to 45 characters ending in "…", sizes as file bytes ("RUN echo step1 > /step1" is 6B); rmi by a
// tag of an image with other tags only untags; rmi by id refuses tags in several repositories.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { mountsUnder, unmount } from "../runtime/mounts.js";

const here = dirname(fileURLToPath(import.meta.url));
const BIN = join(here, "..", "bin", "tsbuild");
const MAKE_ROOTFS = join(here, "..", "testdata", "busybox", "make-rootfs.sh");
let dir: string;
let root: string;

async function ts(args: string[], input?: string): Promise<{ code: number; out: string; err: string }> {
  const r = await execa(BIN, ["--root", root, ...args], { reject: false, input: input ?? "", stripFinalNewline: false });
  return { code: r.exitCode ?? -1, out: String(r.stdout), err: String(r.stderr) };
}

async function ok(args: string[]): Promise<string> {
  const r = await ts(args);
  assert.equal(r.code, 0, `tsbuild ${args.join(" ")}: ${r.err}`);
  return r.out;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "tsbuild-lifecycle-"));
  root = join(dir, "store");
  await execa(MAKE_ROOTFS, [join(dir, "bb.tar")]);
  await ok(["import", join(dir, "bb.tar"), "busybox:latest", "--change", 'CMD ["sh"]']);
  const ctx = join(dir, "ctx");
  await mkdir(ctx);
  await writeFile(join(ctx, "Dockerfile"), [
    "FROM busybox:latest",
    "RUN echo step1 > /step1",
    "ENV APP=1",
    "LABEL description=a-label-value-that-is-long-enough-to-be-truncated",
    "",
  ].join("\n"));
  await ok(["build", "-q", "-t", "app:1", ctx]);
});

after(async () => {
  for (const m of await mountsUnder(dir)) await unmount(m);
  await rm(dir, { recursive: true, force: true });
});

test("history: newest first, id on the top row, sizes, truncation, -q and --no-trunc", async () => {
  const lines = (await ok(["history", "app:1"])).trimEnd().split("\n");
  assert.match(lines[0]!, /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/);
  assert.equal(lines.length, 5);
  assert.match(lines[1]!, /^[0-9a-f]{12}\s+.*LABEL description=a-label-value-that-is-long…\s+0B\s+buildkit\.dockerfile\.v0$/);
  assert.match(lines[2]!, /^<missing>\s+.*ENV APP=1\s+0B\s/);
  assert.match(lines[3]!, /^<missing>\s+.*RUN \/bin\/sh -c echo step1 > \/step1 # buildkit\s+6B\s/);
  assert.match(lines[4]!, /^<missing>\s+.*\s1\.98MB\s+Imported from /);
  const id = (await ok(["images", "-q", "app:1"])).trim();
  assert.equal(lines[1]!.slice(0, 12), id);
  assert.deepEqual((await ok(["history", "-q", "app:1"])).trim().split("\n"), [id, "<missing>", "<missing>", "<missing>"]);
  const full = await ok(["history", "--no-trunc", "app:1"]);
  assert.match(full, /^sha256:[0-9a-f]{64}\s/m);
  assert.match(full, /LABEL description=a-label-value-that-is-long-enough-to-be-truncated\s/);
  const missing = await ts(["history", "nope:1"]);
  assert.equal(missing.code, 1);
  assert.equal(missing.err.trim(), "error: No such image: nope:1");
});

test("tag and rmi: untag one of several tags, refusals leave the store unchanged, -f deletes", async () => {
  await ok(["tag", "app:1", "app:2"]);
  await ok(["tag", "app:1", "other/app:x"]);
  const bad = await ts(["tag", "app:1", "UPPER:1"]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /repository name must be lowercase/);
  const id = (await ok(["images", "-q", "app:1"])).trim();
  assert.equal(await ok(["rmi", "app:2"]), "Untagged: app:2\n");
  const indexBefore = await readFile(join(root, "index.json"), "utf8");
  const refused = await ts(["rmi", id]);
  assert.equal(refused.code, 1);
  assert.match(refused.err, /^error: conflict: unable to delete [0-9a-f]{12} \(must be forced\) - image is referenced in multiple repositories$/m);
  assert.equal(await readFile(join(root, "index.json"), "utf8"), indexBefore);
  const inspect = JSON.parse(await ok(["inspect", "app:1"])) as { Id: string }[];
  const configBlob = join(root, "blobs", "sha256", inspect[0]!.Id.slice(7));
  const out = await ok(["rmi", "-f", id]);
  assert.deepEqual(out.trim().split("\n").sort(), ["Deleted: " + inspect[0]!.Id, "Untagged: app:1", "Untagged: other/app:x"]);
  await assert.rejects(stat(configBlob), /ENOENT/);
  assert.equal((await ts(["inspect", "app:1"])).code, 1);
  assert.match(await ok(["images"]), /busybox\s+latest/);
  const unknown = await ts(["rmi", "nope:1"]);
  assert.equal(unknown.code, 1);
  assert.equal(unknown.err.trim(), "error: No such image: nope:1");
});

test("image prune: needs -f without a terminal, removes dangling images and their blobs", async () => {
  await ok(["import", join(dir, "bb.tar"), "pr:1", "--change", 'CMD ["echo", "one"]']);
  const oldId = (await ok(["images", "-q", "pr:1"])).trim();
  await ok(["import", join(dir, "bb.tar"), "pr:1", "--change", 'CMD ["echo", "two"]']);
  assert.match(await ok(["images", "-f", "dangling=true"]), new RegExp(oldId));
  const asked = await ts(["image", "prune"]);
  assert.notEqual(asked.code, 0);
  assert.match(asked.err, /use -f/);
  assert.match(await ok(["images", "-f", "dangling=true"]), new RegExp(oldId), "nothing pruned without -f");
  const out = await ok(["image", "prune", "-f"]);
  assert.match(out, new RegExp(`^Deleted Images:\ndeleted: sha256:${oldId}[0-9a-f]{52}\n\nTotal reclaimed space: \\d+(\\.\\d+)?k?B\n$`));
  assert.doesNotMatch(await ok(["images"]), new RegExp(oldId));
  assert.match(await ok(["images"]), /pr\s+1/);
  assert.equal(await ok(["image", "prune", "-f"]), "Total reclaimed space: 0B\n");
});

test("system df: images, containers, volumes, build cache; -v shares layers", async () => {
  const out = await ok(["system", "df"]);
  const lines = out.trimEnd().split("\n");
  assert.match(lines[0]!, /^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE$/);
  assert.match(lines[1]!, /^Images\s+\d+\s+\d+\s+1\.984MB\s+/);
  assert.match(lines[3]!, /^Local Volumes\s+0\s+0\s+0B\s+0B$/);
  assert.match(lines[4]!, /^Build Cache\s+[1-9]\d*\s+0\s+\S+\s+\S+$/);
  const v = await ok(["system", "df", "-v"]);
  assert.match(v, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\s+SHARED SIZE\s+UNIQUE SIZE\s+CONTAINERS$/m);
  // busybox:latest and pr:1 share the busybox layer: all of it is shared, nothing unique.
  assert.match(v, /^busybox\s+latest\s+[0-9a-f]{12}\s+.*\s1\.984MB\s+1\.984MB\s+0B\s+0$/m);
});

test("run, ps, commit, rm: exit codes, records, a committed writable layer", async () => {
  const r = await ts(["run", "--name", "c1", "-e", "FOO=bar", "busybox:latest", "sh", "-c", "echo hi $FOO; echo oops >&2; echo data > /newfile; exit 3"]);
  assert.equal(r.code, 3);
  assert.equal(r.out, "hi bar\n");
  assert.equal(r.err, "oops\n");
  assert.match(await ok(["ps"]), /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES\n$/);
  const ps = await ok(["ps", "-a"]);
  assert.match(ps, /^[0-9a-f]{12}\s+busybox:latest\s+"sh -c 'echo hi \$FOO…"\s+.*\sExited \(3\) .* ago\s+c1$/m);
  const inUse = await ts(["rmi", "busybox:latest"]);
  assert.equal(inUse.code, 1);
  assert.match(inUse.err, /conflict: unable to remove repository reference "busybox:latest" \(must force\) - container [0-9a-f]{12} is using its referenced image/);
  const dup = await ts(["run", "--name", "c1", "busybox:latest", "true"]);
  assert.equal(dup.code, 1);
  assert.match(dup.err, /The container name "\/c1" is already in use/);
  const committed = (await ok(["commit", "c1", "committed:1"])).trim();
  assert.match(committed, /^sha256:[0-9a-f]{64}$/);
  const again = await ts(["run", "--rm", "committed:1", "cat", "/newfile"]);
  assert.equal(again.code, 0, again.err);
  assert.equal(again.out, "data\n");
  assert.match((await ok(["history", "committed:1"])).split("\n")[1]!, /sh -c echo hi \$FOO; echo oops >&2; echo data…\s+5B/);
  // commit -c changes the committed config, on top of the container's (its FOO=bar env kept)
  await ok(["commit", "-c", 'CMD ["cat", "/newfile"]', "-c", "ENV ADDED=1", "c1", "committed:2"]);
  assert.equal(await ok(["inspect", "-f", "{{json .Config.Cmd}} {{join .Config.Env \",\"}}", "committed:2"]), '["cat","/newfile"] FOO=bar,ADDED=1\n');
  assert.equal((await ts(["run", "--rm", "committed:2"])).out, "data\n");
  const notFound = await ts(["run", "--rm", "busybox:latest", "nosuchcommand"]);
  assert.equal(notFound.code, 127);
  const records = await readdir(join(root, "containers"));
  assert.equal(records.length, 1, "--rm leaves no record");
  const rec = JSON.parse(await readFile(join(root, "containers", records[0]!, "config.json"), "utf8")) as { snapshotId: number };
  await stat(join(root, "snapshots", String(rec.snapshotId), "fs", "newfile"));
  assert.equal(await ok(["rm", "c1"]), "c1\n");
  assert.deepEqual(await readdir(join(root, "containers")), []);
  await assert.rejects(stat(join(root, "snapshots", String(rec.snapshotId))), /ENOENT/);
  assert.equal((await ts(["rm", "c1"])).err.trim(), "error: No such container: c1");
  assert.deepEqual(await mountsUnder(root), [], "nothing left mounted");
});
