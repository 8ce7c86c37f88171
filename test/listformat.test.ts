// The listing spellings scripts use, through bin/tsbuild: --format json|table|'table TEMPLATE'|TEMPLATE
// on images, history, ps and system df, and the images filters before, since and label. Header rows
// and column widths as Docker 26's client prints them (recorded against the oracle's dockerd).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatList, tabwrite } from "../cli/listformat.js";
import { table } from "../cli/format.js";
import { freshStore, removeStore, tsbuildOk } from "./helpers.js";

let root: string;
let ctx: string;

before(async () => {
  root = await freshStore();
  ctx = await mkdtemp(join(tmpdir(), "tsbuild-listformat-"));
  // three images made one after the other (created times differ by the build), the middle one labelled
  for (const [tag, extra] of [["first:1", "LABEL tier=base"], ["second:1", "LABEL tier=app team=x"], ["third:1", "RUN echo 3 > /three"]] as const) {
    await writeFile(join(ctx, "Dockerfile"), `FROM busybox:local\nRUN echo ${tag} > /tag\n${extra}\n`);
    await tsbuildOk(["--root", root, "build", "-q", "-t", tag, ctx]);
  }
});
after(async () => {
  await removeStore(root);
  await rm(ctx, { recursive: true, force: true });
});

const ts = async (...args: string[]): Promise<string> => (await tsbuildOk(["--root", root, ...args])).stdout;

test("tabwrite is Docker's tabwriter: the default tables print as before", () => {
  const rows = [["busybox", "local", "95d5bc6752e7"], ["a-much-longer-repository", "1", "abc"]];
  assert.equal(tabwrite(["REPOSITORY\tTAG\tIMAGE ID", ...rows.map((r) => r.join("\t"))].join("\n")) + "\n", table(["REPOSITORY", "TAG", "IMAGE ID"], rows));
  const out = formatList("table {{.Repository}}:{{.Tag}} {{.Digest}}", [{ Repository: "app", Tag: "1", Digest: "<none>" }], { table: "", headers: {} });
  assert.equal(out, "REPOSITORY:TAG DIGEST\napp:1 <none>\n");
  // a field the rows do not have is an error, as on Docker's structs (not "<no value>")
  assert.throws(() => formatList("{{.Nope}}", [{ Repository: "app" }], { table: "", headers: {} }), /can't evaluate field Nope/);
  // "table" with no space after it, as Docker's formatter takes it
  assert.equal(formatList("table{{.Repository}}\\t{{.Tag}}", [{ Repository: "app", Tag: "1" }], { table: "", headers: {} }), "REPOSITORY   TAG\napp          1\n");
});

test("images --format: table with a template, a bare template, json; filters before, since, label", async () => {
  const tableOut = await ts("images", "--format", "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}");
  const lines = tableOut.trimEnd().split("\n");
  assert.match(lines[0] ?? "", /^REPOSITORY {3,}TAG {3,}IMAGE ID$/);
  assert.equal(lines.length, 5); // header, three builds, busybox
  assert.equal(await ts("images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "label=tier"), "second:1\nfirst:1\n");
  assert.equal(await ts("images", "--format", "{{.Repository}}", "--filter", "label=tier=app"), "second\n");
  assert.equal(await ts("images", "--format", "{{.Repository}}", "--filter", "since=first:1"), "third\nsecond\n");
  assert.equal(await ts("images", "--format", "{{.Repository}}", "--filter", "before=second:1", "--filter", "reference=first"), "first\n");
  const json = (await ts("images", "--format", "json", "third:1")).trim().split("\n").map((l) => JSON.parse(l) as Record<string, string>);
  assert.deepEqual(Object.keys(json[0] ?? {}), ["Containers", "CreatedAt", "CreatedSince", "Digest", "ID", "Repository", "SharedSize", "Size", "Tag", "UniqueSize", "VirtualSize"]);
  assert.equal(await ts("images", "--format", "{{if eq .Tag \"1\"}}{{.Repository}}{{end}}", "--filter", "reference=t*"), "third\n");
});

test("history, ps and system df take --format", async () => {
  const createdBy = (await ts("history", "--no-trunc", "--format", "{{.CreatedBy}}", "third:1")).split("\n");
  assert.match(createdBy[0] ?? "", /echo 3 > \/three/);
  const hist = (await ts("history", "--format", "json", "second:1")).trim().split("\n").map((l) => JSON.parse(l) as Record<string, string>);
  assert.deepEqual(Object.keys(hist[0] ?? {}), ["Comment", "CreatedAt", "CreatedBy", "CreatedSince", "ID", "Size"]);
  assert.match((await ts("history", "--format", "table {{.ID}}\\t{{.CreatedBy}}", "first:1")).split("\n")[0] ?? "", /^IMAGE {3,}CREATED BY$/);
  await ts("run", "--name", "lister", "first:1", "true");
  assert.equal(await ts("ps", "-a", "--format", "{{.Names}} {{.State}} {{.Image}}"), "lister exited first:1\n");
  const ps = JSON.parse((await ts("ps", "-a", "--format", "json")).trim()) as Record<string, string>;
  assert.equal(ps.Names, "lister");
  await ts("rm", "lister");
  const df = (await ts("system", "df", "--format", "json")).trim().split("\n").map((l) => JSON.parse(l) as Record<string, string>);
  assert.deepEqual(df.map((d) => d.Type), ["Images", "Containers", "Local Volumes", "Build Cache"]);
  assert.equal(df[0]?.TotalCount, "4");
});

test("a listing with no rows still prints its header (an empty store's images, as Docker's)", () => {
  const list = { table: "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}", headers: { ID: "IMAGE ID", CreatedSince: "CREATED" } };
  assert.equal(formatList(undefined, [], list), "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n");
  assert.equal(formatList("table {{.Repository}}\\t{{.Size}}", [], list), "REPOSITORY   SIZE\n");
});
