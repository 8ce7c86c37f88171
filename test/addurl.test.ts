// ADD from http URLs against a server the test runs on 127.0.0.1: the file's name, mode 0600 and
// Last-Modified time (BuildKit 0.13's http source), no extraction, --checksum checked before use,
// --chmod/--chown, the cache (a conditional request each build; none at all with --checksum; a change
// on the server rebuilds the step, naming the URL), and one-line errors that leave the store as it was.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freshStore, removeStore, storeGrowth, storeListing, tsbuild, tsbuildOk } from "./helpers.js";

interface Served { body: Buffer; lastModified?: string; etag?: boolean }

let server: Server;
let base: string;
let root: string;
let ctx: string;
const files = new Map<string, Served>();
const requests: Array<{ path: string; conditional: boolean; status: number }> = [];

const sha = (b: Buffer): string => `sha256:${createHash("sha256").update(b).digest("hex")}`;
const etagOf = (b: Buffer): string => `"${sha(b).slice(7, 23)}"`;

before(async () => {
  server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0] ?? "";
    if (path === "/redirect") {
      res.writeHead(302, { location: "/e/file.txt" }).end();
      return void requests.push({ path, conditional: false, status: 302 });
    }
    if (path === "/slow") {
      // the body in five pieces, 150 ms apart: a slow server is waited for, the pieces streamed to the file
      res.writeHead(200, { "content-length": "30" });
      let n = 0;
      const piece = (): void => {
        res.write(`slow${n}\n`);
        if (++n < 5) setTimeout(piece, 150);
        else res.end();
      };
      piece();
      return void requests.push({ path, conditional: false, status: 200 });
    }
    if (path === "/truncated") {
      // promises 1,000 bytes, sends 10 and drops the connection
      res.writeHead(200, { "content-length": "1000" });
      res.write("0123456789");
      setTimeout(() => res.socket?.destroy(), 50);
      return void requests.push({ path, conditional: false, status: 200 });
    }
    const f = files.get(path);
    const conditional = req.headers["if-none-match"] !== undefined || req.headers["if-modified-since"] !== undefined;
    const done = (status: number): void => void requests.push({ path, conditional, status });
    if (!f) {
      res.writeHead(404).end("not here");
      return done(404);
    }
    const headers: Record<string, string> = {};
    if (f.lastModified) headers["last-modified"] = f.lastModified;
    if (f.etag) headers.etag = etagOf(f.body);
    if (f.etag && req.headers["if-none-match"] === etagOf(f.body)) {
      res.writeHead(304, headers).end();
      return done(304);
    }
    const since = req.headers["if-modified-since"];
    if (!f.etag && f.lastModified && since !== undefined && Date.parse(since) >= Date.parse(f.lastModified)) {
      res.writeHead(304, headers).end();
      return done(304);
    }
    res.writeHead(200, { ...headers, "content-length": String(f.body.length) }).end(f.body);
    done(200);
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const addr = server.address();
  base = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`;
  root = await freshStore();
  ctx = await mkdtemp(join(tmpdir(), "tsbuild-addurl-"));
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((ok) => server.close(() => ok()));
  await removeStore(root);
  await rm(ctx, { recursive: true, force: true });
});

async function build(dockerfile: string, tag: string): Promise<{ code: number | null; stderr: string; report: { steps: Array<{ instruction: string; cached: boolean; reason?: string }> } }> {
  await writeFile(join(ctx, "Dockerfile"), dockerfile);
  const report = join(ctx, "report.json");
  const r = await tsbuild(["--root", root, "build", "--progress", "plain", "--report", report, "-t", tag, ctx]);
  const parsed = r.code === 0 ? JSON.parse(execFileSync("cat", [report], { encoding: "utf8" })) as { steps: Array<{ instruction: string; cached: boolean; reason?: string }> } : { steps: [] };
  return { code: r.code, stderr: r.stderr, report: parsed };
}

const run = async (image: string, cmd: string): Promise<string> => (await tsbuildOk(["--root", root, "run", "--rm", image, "sh", "-c", cmd])).stdout;

test("ADD URL: named from the path, mode 0600, Last-Modified time, archives not extracted, --chmod and --chown", async () => {
  files.set("/dl/tool.txt", { body: Buffer.from("tool\n"), lastModified: "Tue, 01 Oct 2024 10:20:30 GMT", etag: true });
  files.set("/dl/pack.tar.gz", { body: execFileSync("sh", ["-c", "cd / && tar -czf - etc/passwd"]) });
  files.set("/", { body: Buffer.from("index\n") });
  const r = await build([
    "FROM busybox:local",
    `ADD ${base}/dl/tool.txt /opt/`,
    `ADD ${base}/dl/tool.txt /renamed`,
    `ADD ${base}/dl/pack.tar.gz /archives/`,
    `ADD --chmod=755 --chown=1000:1000 ${base}/dl/tool.txt /x/`,
    `ADD ${base}/ /root-url/`,
    "",
  ].join("\n"), "addurl:1");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await run("addurl:1", "stat -c '%n %a %u:%g %Y' /opt/tool.txt /renamed /x/tool.txt"),
    `/opt/tool.txt 600 0:0 ${Date.parse("2024-10-01T10:20:30Z") / 1000}\n/renamed 600 0:0 1727778030\n/x/tool.txt 755 1000:1000 1727778030\n`);
  assert.equal(await run("addurl:1", "cat /opt/tool.txt; ls /archives; stat -c %Y /archives/pack.tar.gz; ls /root-url"), "tool\npack.tar.gz\n0\n__unnamed__\n");
});

test("the cache: a conditional request each build, none with --checksum; a change on the server rebuilds, naming the URL", async () => {
  files.set("/c/data.txt", { body: Buffer.from("v1\n"), etag: true });
  const body = (v: string): Buffer => Buffer.from(v);
  const df = (extra = ""): string => `FROM busybox:local\nADD ${extra}${base}/c/data.txt /data.txt\nRUN cat /data.txt > /copy\n`;
  assert.equal((await build(df(), "cache:1")).code, 0);
  requests.length = 0;
  const again = await build(df(), "cache:1");
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(requests.map((q) => [q.conditional, q.status]), [[true, 304]]);
  assert.ok(again.report.steps.filter((s) => s.instruction.startsWith("ADD") || s.instruction.startsWith("RUN")).every((s) => s.cached));

  files.set("/c/data.txt", { body: body("v2\n"), etag: true });
  const changed = await build(df(), "cache:1");
  const add = changed.report.steps.find((s) => s.instruction.startsWith("ADD"));
  assert.equal(add?.cached, false);
  assert.match(add?.reason ?? "", /http:\/\/127\.0\.0\.1:\d+\/c\/data\.txt changed/);
  assert.equal(await run("cache:1", "cat /copy"), "v2\n");

  const pinned = `--checksum=${sha(body("v2\n"))} `;
  assert.equal((await build(df(pinned), "cache:2")).code, 0);
  requests.length = 0;
  const hit = await build(df(pinned), "cache:2");
  assert.equal(hit.code, 0, hit.stderr);
  assert.deepEqual(requests, [], "a pinned URL whose step hits is not requested");
});

test("a wrong --checksum, a 404 and a mixed ADD are one-line errors naming the URL; the store is unchanged", async () => {
  files.set("/e/file.txt", { body: Buffer.from("real\n") });
  const before = storeListing(root);
  const wrong = `sha256:${"0".repeat(64)}`;
  const bad = await build(`FROM busybox:local\nADD --checksum=${wrong} ${base}/e/file.txt /f\n`, "err:1");
  assert.equal(bad.code, 1);
  const line = bad.stderr.trim().split("\n").at(-1) ?? "";
  assert.match(line, /^error: \S*Dockerfile:2: ADD http:\/\/127\.0\.0\.1:\d+\/e\/file\.txt: digest mismatch: --checksum says sha256:0{64}, the download is sha256:[0-9a-f]{64}$/);
  const missing = await build(`FROM busybox:local\nADD ${base}/e/missing.txt /f\n`, "err:2");
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /Dockerfile:2: ADD http:\/\/127\.0\.0\.1:\d+\/e\/missing\.txt: invalid response status 404/);
  await writeFile(join(ctx, "local.txt"), "l\n");
  const mixed = await build(`FROM busybox:local\nADD local.txt ${base}/e/file.txt /d/\n`, "err:3");
  assert.equal(mixed.code, 1);
  assert.match(mixed.stderr, /Dockerfile:2: ADD: mixing URLs and local files/);
  const local = await build(`FROM busybox:local\nADD --checksum=${wrong} local.txt /d/\n`, "err:4");
  assert.match(local.stderr, /checksum can't be specified for non-HTTP sources/);
  const cut = await build(`FROM busybox:local\nADD ${base}/truncated /t\n`, "err:5");
  assert.equal(cut.code, 1);
  assert.equal(cut.stderr.trim().split("\n").filter((l) => l.startsWith("error:")).length, 1);
  assert.match(cut.stderr, /Dockerfile:2: ADD http:\/\/127\.0\.0\.1:\d+\/truncated: download failed: the connection closed after 10 of 1000 bytes$/m);
  assert.deepEqual(storeGrowth(before, storeListing(root)), [], "no blob was added");
  assert.deepEqual(await readdir(join(root, "tmp")), [], "nothing half-written is left");
  // a redirect is followed
  const moved = await build(`FROM busybox:local\nADD ${base}/redirect /moved/\n`, "moved:1");
  assert.equal(moved.code, 0, moved.stderr);
  assert.equal(await run("moved:1", "cat /moved/redirect"), "real\n");
});

test("Last-Modified alone: the re-check is an If-Modified-Since request (304: cached); a newer date rebuilds", async () => {
  files.set("/lm/data.txt", { body: Buffer.from("lm1\n"), lastModified: "Mon, 02 Sep 2024 08:00:00 GMT" });
  const df = `FROM busybox:local\nADD ${base}/lm/data.txt /data.txt\n`;
  assert.equal((await build(df, "lm:1")).code, 0);
  requests.length = 0;
  const again = await build(df, "lm:1");
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(requests.map((q) => [q.path, q.conditional, q.status]), [["/lm/data.txt", true, 304]]);
  assert.equal(again.report.steps.find((s) => s.instruction.startsWith("ADD"))?.cached, true);
  files.set("/lm/data.txt", { body: Buffer.from("lm2\n"), lastModified: "Tue, 03 Sep 2024 08:00:00 GMT" });
  const changed = await build(df, "lm:1");
  assert.equal(changed.report.steps.find((s) => s.instruction.startsWith("ADD"))?.cached, false);
  assert.equal(await run("lm:1", "cat /data.txt; stat -c %Y /data.txt"), `lm2\n${Date.parse("2024-09-03T08:00:00Z") / 1000}\n`);
});

test("a slow server is waited for: its pieces reach the file whole", async () => {
  const r = await build(`FROM busybox:local\nADD ${base}/slow /s\n`, "slow:1");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await run("slow:1", "cat /s"), "slow0\nslow1\nslow2\nslow3\nslow4\n");
});
