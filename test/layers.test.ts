// `tsbuild layers`: where an image's bytes go, on images with known waste, and how two images differ.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WasteCounter, compareFiles } from "../cli/layerwaste.js";
import { freshStore, removeStore, tsbuildOk } from "./helpers.js";

let root: string;
let ctx: string;

before(async () => {
  root = await freshStore();
  ctx = await mkdtemp(join(tmpdir(), "tsbuild-layers-"));
});
after(async () => {
  await removeStore(root);
  await rm(ctx, { recursive: true, force: true });
});

const file = (path: string, size: number, digest = `d-${path}-${size}`) => ({ path, type: "file" as const, size, mode: 0o644, digest });

test("the counter: overwrites, whiteouts and opaque folders waste the earlier layer's bytes", () => {
  const c = new WasteCounter();
  c.layer("sha256:l0", "base");
  for (const e of [{ path: "etc/", type: "dir" as const, size: 0, mode: 0o755 }, file("etc/a", 10), file("etc/b", 20), file("big", 1000), file("d/x", 5), file("d/y", 7)]) c.entry(e);
  c.layer("sha256:l1", "change");
  for (const e of [file("etc/a", 11), file(".wh.big", 0), file("d/.wh..wh..opq", 0), file("d/z", 3), file("new", 4)]) c.entry(e);
  const r = c.result();
  assert.deepEqual(r.layers.map((l) => [l.size, l.added, l.changed, l.deleted, l.wastedBytes]), [[1042, 5, 0, 0, 10 + 1000 + 12], [18, 2, 1, 3, 0]]);
  assert.equal(r.totalBytes, 1060);
  assert.equal(r.wastedBytes, 1022);
  assert.deepEqual([...r.files.keys()].sort(), ["/d/z", "/etc", "/etc/a", "/etc/b", "/new"]);
  const other = new WasteCounter();
  other.layer("sha256:l0", "base");
  for (const e of [file("etc/a", 11), file("etc/b", 21), file("only", 1)]) other.entry(e);
  assert.deepEqual(compareFiles(r.files, other.result().files).map((d) => `${d.kind} ${d.path}`), ["D /d/z", "D /etc", "C /etc/b", "D /new", "A /only"]);
});

test("tsbuild layers: an image whose later steps delete and overwrite what an earlier one wrote", async () => {
  await writeFile(join(ctx, "Dockerfile"), [
    "FROM busybox:local",
    "RUN head -c 100000 /dev/zero > /big && echo a > /keep",
    "RUN rm /big",
    "RUN head -c 5000 /dev/zero > /keep2 && echo b > /keep",
    "",
  ].join("\n"));
  await tsbuildOk(["--root", root, "build", "-q", "-t", "waste:1", ctx]);
  const report = JSON.parse((await tsbuildOk(["--root", root, "layers", "--format", "json", "waste:1"])).stdout) as {
    layers: Array<{ size: number; files_added: number; files_changed: number; files_deleted: number; wasted_bytes: number; created_by: string }>;
    wasted_bytes: number; efficiency: number; size: number;
  };
  const [base, write, remove, rewrite] = report.layers;
  assert.equal(report.layers.length, 4);
  assert.equal(base?.wasted_bytes, 0);
  assert.deepEqual([write?.size, write?.files_added, write?.wasted_bytes], [100002, 2, 100002]);
  assert.deepEqual([remove?.files_deleted, remove?.size], [1, 0]);
  assert.deepEqual([rewrite?.files_added, rewrite?.files_changed, rewrite?.size], [1, 1, 5002]);
  assert.match(write?.created_by ?? "", /head -c 100000/);
  assert.equal(report.wasted_bytes, 100002);
  assert.ok(Math.abs(report.efficiency - (report.size - 100002) / report.size) < 1e-9);
  const table = (await tsbuildOk(["--root", root, "layers", "waste:1"])).stdout;
  assert.match(table, /^LAYER {3,}SIZE {3,}ADDED {3,}CHANGED {3,}DELETED {3,}WASTED {3,}CREATED BY$/m);
  assert.match(table, /wasted: 100kB .*efficiency: \d+\.\d%/);
});

test("tsbuild layers --against: the shared layers, each image's own, and the files that differ", async () => {
  await writeFile(join(ctx, "Dockerfile"), "FROM busybox:local\nRUN head -c 100000 /dev/zero > /big && echo a > /keep\nRUN echo other > /other\n");
  await tsbuildOk(["--root", root, "build", "-q", "-t", "waste:2", ctx]);
  const diff = JSON.parse((await tsbuildOk(["--root", root, "layers", "--format", "json", "waste:1", "--against", "waste:2"])).stdout) as {
    shared_layers: number; only_in_image: unknown[]; only_in_against: unknown[]; files: Array<{ change: string; path: string }>;
  };
  assert.equal(diff.shared_layers, 2);
  assert.equal(diff.only_in_image.length, 2);
  assert.equal(diff.only_in_against.length, 1);
  assert.deepEqual(diff.files.map((f) => `${f.change} ${f.path}`), ["A /big", "C /keep", "D /keep2", "A /other"]);
  const text = (await tsbuildOk(["--root", root, "layers", "waste:1", "--against", "waste:2"])).stdout;
  assert.match(text, /^2 layers shared$/m);
  assert.match(text, /^A \/other$/m);
});
