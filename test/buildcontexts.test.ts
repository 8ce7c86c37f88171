// buildx's named contexts (--build-context NAME=DIR|docker-image://REF|URL), --no-cache-filter, and
// -o type=image,name=…. Remote named contexts come from an http server the test runs on 127.0.0.1: a
// repository over git's dumb http protocol (static files; no shallow fetch, so git fetches in full, as
// BuildKit's git retries) and plain downloads (one file each, not extracted, as BuildKit's llb.HTTP).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join, normalize } from "node:path";
import { freshStore, removeStore, tsbuild, tsbuildOk } from "./helpers.js";

let root: string;
let dir: string;
let server: Server | undefined;
let base: string;

before(async () => {
  root = await freshStore();
  dir = await mkdtemp(join(tmpdir(), "tsbuild-namedctx-"));
  await mkdir(join(dir, "ctx"));
  await mkdir(join(dir, "extra", "sub"), { recursive: true });
  await writeFile(join(dir, "extra", "sub", "o.txt"), "from the named context\n");
});
after(async () => {
  server?.closeAllConnections();
  await new Promise<void>((ok) => (server ? server.close(() => ok()) : ok()));
  await removeStore(root);
  await rm(dir, { recursive: true, force: true });
});

const cat = async (image: string, path: string): Promise<string> => (await tsbuildOk(["--root", root, "run", "--rm", image, "cat", path])).stdout;

interface Step { stage: string; instruction: string; cached: boolean; reason?: string }
async function build(args: string[], dockerfile: string): Promise<Step[]> {
  await writeFile(join(dir, "ctx", "Dockerfile"), dockerfile);
  const report = join(dir, "report.json");
  await tsbuildOk(["--root", root, "build", "-q", "--report", report, ...args, join(dir, "ctx")]);
  return (JSON.parse(await readFile(report, "utf8")) as { steps: Step[] }).steps;
}

test("--build-context: a folder for COPY --from, an image for FROM; its files key the step", async () => {
  const df = "FROM mybase\nCOPY --from=extra sub/o.txt /o.txt\nRUN cat /o.txt > /seen\n";
  const args = ["-t", "named:1", "--build-context", "mybase=docker-image://busybox:local", "--build-context", `extra=${join(dir, "extra")}`];
  await build(args, df);
  assert.equal(await cat("named:1", "/seen"), "from the named context\n");
  const again = await build(args, df);
  assert.ok(again.filter((s) => /^(COPY|RUN)/.test(s.instruction)).every((s) => s.cached));
  await writeFile(join(dir, "extra", "sub", "o.txt"), "changed\n");
  const changed = await build(args, df);
  const copy = changed.find((s) => s.instruction.startsWith("COPY"));
  assert.equal(copy?.cached, false);
  assert.match(copy?.reason ?? "", /sub\/o\.txt changed/);
  assert.equal(await cat("named:1", "/seen"), "changed\n");

  const folderBase = await tsbuild(["--root", root, "build", "-q", "--build-context", `mybase=${join(dir, "extra")}`, join(dir, "ctx")]);
  assert.equal(folderBase.code, 1);
  assert.match(folderBase.stderr, /Dockerfile:1: FROM mybase: the build context mybase is a folder/);
  const missing = await tsbuild(["--root", root, "build", "-q", "--build-context", "extra=/nonexistent/folder", join(dir, "ctx")]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /--build-context extra=\/nonexistent\/folder: no such folder/);
});

test("--no-cache-filter rebuilds the named stages only", async () => {
  const df = "FROM busybox:local AS deps\nRUN echo deps > /d\nFROM busybox:local AS app\nCOPY --from=deps /d /d\nRUN echo app > /a\n";
  await build(["-t", "filter:1"], df);
  const steps = await build(["-t", "filter:1", "--no-cache-filter", "app"], df);
  const byStage = (stage: string): boolean[] => steps.filter((s) => s.stage === stage && /^(RUN|COPY)/.test(s.instruction)).map((s) => s.cached);
  assert.deepEqual(byStage("deps"), [true]);
  assert.deepEqual(byStage("app"), [false, false]);
});

test("--build-context NAME=URL: a repository (git's dumb http) and downloads, for COPY --from; -o type=image,name=", async () => {
  const srv = join(dir, "srv");
  const work = join(dir, "gitwork");
  await mkdir(join(work, "sub"), { recursive: true });
  await writeFile(join(work, "sub", "a.txt"), "from the repository\n");
  const git = (cwd: string, ...args: string[]): string => execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "init.defaultBranch=main", ...args], { cwd, encoding: "utf8" });
  git(dir, "init", "-q", work);
  git(work, "add", ".");
  git(work, "commit", "-q", "-m", "one");
  await mkdir(srv);
  git(srv, "clone", "-q", "--bare", work, "repo.git");
  git(join(srv, "repo.git"), "update-server-info");
  const tarball = execFileSync("tar", ["-C", work, "-czf", "-", "sub"]);
  server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname === "/files/data.tar.gz") return void res.writeHead(200, { "last-modified": "Tue, 01 Oct 2024 10:20:30 GMT" }).end(tarball);
    if (url.pathname === "/get") return void res.writeHead(200, { "content-disposition": 'attachment; filename="named.bin"' }).end("by disposition\n");
    const file = join(srv, normalize(url.pathname));
    readFile(file).then((b) => res.writeHead(200).end(b), () => res.writeHead(404).end());
  });
  await new Promise<void>((ok) => server?.listen(0, "127.0.0.1", ok));
  const a = server.address();
  base = `http://127.0.0.1:${typeof a === "object" && a ? a.port : 0}`;

  const df = "FROM busybox:local\nCOPY --from=src a.txt /src-a\nCOPY --from=tarball data.tar.gz /t/\nCOPY --from=cd named.bin /n\nCOPY --from=whole .git/HEAD /whole-head\n";
  const args = ["--build-context", `src=${base}/repo.git#main:sub`, "--build-context", `whole=${base}/repo.git#main`, "--build-context", `tarball=${base}/files/data.tar.gz`, "--build-context", `cd=${base}/get?id=3`];
  await build([...args, "-o", "type=image,name=fromurls:1"], df);
  const out = (await tsbuildOk(["--root", root, "run", "--rm", "fromurls:1", "sh", "-c", "cat /src-a /n /whole-head; stat -c '%a %Y' /t/data.tar.gz; ls /t"])).stdout;
  // a repository without a subdir keeps its .git, as dockerui's DetectGitContext(v, true) does
  assert.equal(out, `from the repository\nby disposition\n${git(work, "rev-parse", "HEAD")}600 ${Date.parse("2024-10-01T10:20:30Z") / 1000}\ndata.tar.gz\n`);
  const again = await build([...args, "-t", "fromurls:2"], df);
  assert.ok(again.filter((s) => s.instruction.startsWith("COPY")).every((s) => s.cached), "the same content is a cache hit, whatever the scratch folder");

  const missing = await tsbuild(["--root", root, "build", "-q", "--build-context", `x=${base}/nothing.tar`, join(dir, "ctx")]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^error: --build-context x=http:\/\/127\.0\.0\.1:\d+\/nothing\.tar: invalid response status 404/);
  assert.equal(missing.stderr.trim().split("\n").length, 1);
  const badRef = await tsbuild(["--root", root, "build", "-q", "--build-context", `x=${base}/repo.git#nope`, join(dir, "ctx")]);
  assert.equal(badRef.code, 1);
  assert.match(badRef.stderr, /^error: --build-context x=\S+repo\.git#nope: git \S+repo\.git: no ref nope in the repository\n$/);
  assert.deepEqual(await readdir(join(root, "tmp")), [], "nothing fetched is left");
});
