// buildx's named contexts (--build-context NAME=DIR|docker-image://REF|URL), --no-cache-filter, and
// -o type=image,name=…. Remote named contexts come from an http server the test runs on 127.0.0.1: a
// repository over git's dumb http protocol (static files; no shallow fetch, so git fetches in full, as
// BuildKit's git retries) and plain downloads (one file each, not extracted, as BuildKit's llb.HTTP).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmod, lutimes, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join, normalize } from "node:path";
import { freshStore, removeStore, tsbuild, tsbuildOk } from "./helpers.js";
import { compareSummaries, summarizeArchive, type FileEntry, type HistoryLine } from "./imgtree.js";

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

  // as a base: the download or the checkout is the one layer, named as buildx 0.13 names it against the
  // oracle's dockerd (`http url URL`, `git snapshot for URL`; progress `[context NAME] URL`, `[internal]
  // load git source URL`), on scratch's config
  for (const [name, url, file] of [["tarball", `${base}/files/data.tar.gz`, "/data.tar.gz"], ["whole", `${base}/repo.git#main`, "/sub/a.txt"]] as const) {
    await build(["--build-context", `${name}=${url}`, "-t", `urlbase:${name}`], `FROM ${name}\n`);
    const archive = join(dir, `urlbase-${name}.tar`);
    await tsbuildOk(["--root", root, "save", `urlbase:${name}`, "-o", archive]);
    const s = await summarizeArchive(archive);
    assert.deepEqual(s.history, [{ created_by: name === "whole" ? `git snapshot for ${url}` : `http url ${url}`, empty_layer: false }]);
    assert.deepEqual(s.config, { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], WorkingDir: "/" });
    assert.ok(s.files[file] !== undefined, `${name}: ${file} in ${Object.keys(s.files).slice(0, 5).join(" ")}`);
    if (name === "whole") assert.ok(s.files["/git/HEAD"] !== undefined, "a named repository keeps .git");
  }

  const missing = await tsbuild(["--root", root, "build", "-q", "--build-context", `x=${base}/nothing.tar`, join(dir, "ctx")]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^error: --build-context x=http:\/\/127\.0\.0\.1:\d+\/nothing\.tar: invalid response status 404/);
  assert.equal(missing.stderr.trim().split("\n").length, 1);
  const badRef = await tsbuild(["--root", root, "build", "-q", "--build-context", `x=${base}/repo.git#nope`, join(dir, "ctx")]);
  assert.equal(badRef.code, 1);
  assert.match(badRef.stderr, /^error: --build-context x=\S+repo\.git#nope: git \S+repo\.git: no ref nope in the repository\n$/);
  assert.deepEqual(await readdir(join(root, "tmp")), [], "nothing fetched is left");
});

// FROM a named folder, as BuildKit 0.13 builds it. Recorded with buildx 0.13.1 (Debian trixie's
// docker-buildx, run as a standalone binary: `docker-buildx build --build-context mybase=$PWD/named -f
// ctx/Dockerfile.N -t x ctx`) against the oracle's dockerd 26.1.5 (../shared/oracle/README.md), the
// folder made exactly as below (mtimes 2024-01-02T03:04:05Z), then `docker save` and imgtree.py. Paths
// as imgtree.py writes them (its leading-dot quirk: /.dockerignore is "/dockerignore").
const NAMED_FILES: Record<string, FileEntry> = {
  "/a.txt": { gid: 0, mode: "0o644", sha256: "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03", size: 6, type: "file", uid: 0 },
  "/dockerignore": { gid: 0, mode: "0o644", sha256: "e9104b7bb934bb27cd63394d3e594600fc4fbcf4620b050962191376436d4ba8", size: 11, type: "file", uid: 0 },
  "/link": { gid: 0, link: "a.txt", mode: "0o777", type: "symlink", uid: 0 },
  "/sub": { gid: 0, mode: "0o755", type: "dir", uid: 0 },
  "/sub/b.txt": { gid: 0, mode: "0o755", sha256: "64896f89fd11190013b70103e603a1c5826e56b7fb7d2197ab279b0690043599", size: 5, type: "file", uid: 0 },
};
const CTX_FILE: FileEntry = { gid: 0, mode: "0o644", sha256: "1dd2ea3b7ca26a6188f2e367b53615104ebd9e78e3d882ff29153107e48b67cc", size: 8, type: "file", uid: 0 };
const PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const h = (created_by: string, empty_layer = false): HistoryLine => ({ created_by, empty_layer });
const RECORDED: Record<string, { dockerfile: string; config: Record<string, unknown>; history: HistoryLine[]; files: Record<string, FileEntry> }> = {
  // the folder alone: scratch's config (emptyImage), one layer, the exporter's history entry for it
  alone: { dockerfile: "FROM mybase\n", config: { Env: [PATH_ENV], WorkingDir: "/" }, history: [h("local source for mybase")], files: NAMED_FILES },
  // the folder's layer has no entry: the exporter appends one named after the last layer's step
  steps: {
    dockerfile: "FROM mybase\nENV FOO=bar\nCOPY f.txt /f.txt\nLABEL l=1\nCOPY f.txt /g.txt\n",
    config: { Env: [PATH_ENV, "FOO=bar"], Labels: { l: "1" }, WorkingDir: "/" },
    history: [h("ENV FOO=bar", true), h("COPY f.txt /f.txt # buildkit"), h("LABEL l=1", true), h("COPY f.txt /g.txt # buildkit"), h("[2/3] COPY f.txt /g.txt")],
    files: { ...NAMED_FILES, "/f.txt": CTX_FILE, "/g.txt": CTX_FILE },
  },
  stages: {
    dockerfile: "FROM mybase AS b\nCOPY f.txt /f.txt\nFROM b\nENV X=1\n",
    config: { Env: [PATH_ENV, "X=1"], WorkingDir: "/" },
    history: [h("COPY f.txt /f.txt # buildkit"), h("ENV X=1", true), h("[b 1/2] COPY f.txt /f.txt")],
    files: { ...NAMED_FILES, "/f.txt": CTX_FILE },
  },
};
/** BuildKit's layer of the folder (the same bytes: mtimes, order and headers). */
const RECORDED_DIFF_ID = "sha256:d5b4bf6913ea1b9c6a629d6988e514950e7cc08e446fa6c72359b8bb44754169";

test("FROM a named folder: BuildKit's layer (its .dockerignore applied), config and history; cached by content", async () => {
  const named = join(dir, "named");
  await mkdir(join(named, "sub"), { recursive: true });
  await mkdir(join(named, "skip"));
  await writeFile(join(named, "a.txt"), "hello\n");
  await writeFile(join(named, "sub", "b.txt"), "deep\n");
  await writeFile(join(named, "skip", "c.txt"), "x\n");
  await writeFile(join(named, "ignored.log"), "y\n");
  await writeFile(join(named, ".dockerignore"), "skip\n*.log\n");
  await symlink("a.txt", join(named, "link"));
  for (const f of ["a.txt", ".dockerignore"]) await chmod(join(named, f), 0o644);
  for (const f of ["sub/b.txt", "sub", "skip", "."]) await chmod(join(named, f), 0o755);
  const t = new Date("2024-01-02T03:04:05Z");
  for (const f of ["a.txt", "sub/b.txt", "skip/c.txt", "ignored.log", ".dockerignore", "link", "sub", "skip", "."]) await lutimes(join(named, f), t, t);
  await writeFile(join(dir, "ctx", "f.txt"), "ctxfile\n");
  const args = ["--build-context", `mybase=${named}`];
  for (const [name, rec] of Object.entries(RECORDED)) {
    const steps = await build([...args, "-t", `fromnamed:${name}`], rec.dockerfile);
    assert.equal(steps[0]?.cached, name !== "alone", `${name}: the folder's layer is built once, then taken from the cache`);
    const archive = join(dir, `${name}.tar`);
    await tsbuildOk(["--root", root, "save", `fromnamed:${name}`, "-o", archive]);
    const diffs = compareSummaries({ config: rec.config as Record<string, never>, history: rec.history, files: rec.files }, await summarizeArchive(archive));
    assert.deepEqual(diffs, [], name);
  }
  const rootfs = (await tsbuildOk(["--root", root, "inspect", "--format", "{{json .RootFS.Layers}}", "fromnamed:alone"])).stdout;
  assert.deepEqual(JSON.parse(rootfs), [RECORDED_DIFF_ID]);

  // an ignored file changed: still cached; a kept one: rebuilt, saying which
  await writeFile(join(named, "skip", "c.txt"), "changed\n");
  assert.equal((await build([...args, "-t", "fromnamed:steps"], RECORDED.steps!.dockerfile))[0]?.cached, true);
  await writeFile(join(named, "sub", "b.txt"), "changed\n");
  const changed = await build([...args, "-t", "fromnamed:steps"], RECORDED.steps!.dockerfile);
  assert.equal(changed[0]?.cached, false);
  assert.match(changed[0]?.reason ?? "", /sub\/b\.txt changed/);
  assert.ok(changed.filter((s) => s.instruction.startsWith("COPY")).every((s) => !s.cached));
  // COPY --from the folder applies its .dockerignore too (buildx: /x holds .dockerignore, a.txt, link, sub)
  await build([...args, "-t", "fromnamed:copy"], "FROM busybox:local\nCOPY --from=mybase . /x/\n");
  assert.equal((await tsbuildOk(["--root", root, "run", "--rm", "fromnamed:copy", "ls", "-A", "/x"])).stdout, ".dockerignore\na.txt\nlink\nsub\n");
  // and so does RUN --mount from= it, read-only or not; an ignored file's edit does not rebuild the RUN
  const mountDf = "FROM busybox:local\nRUN --mount=from=mybase,target=/m ls -A /m > /ro\nRUN --mount=from=mybase,target=/m,rw ls -A /m > /rw\n";
  await build([...args, "-t", "fromnamed:mount"], mountDf);
  for (const f of ["/ro", "/rw"]) assert.equal(await cat("fromnamed:mount", f), ".dockerignore\na.txt\nlink\nsub\n", f);
  await writeFile(join(named, "ignored.log"), "changed\n");
  assert.ok((await build([...args, "-t", "fromnamed:mount"], mountDf)).filter((s) => s.instruction.startsWith("RUN")).every((s) => s.cached));
  await writeFile(join(named, "a.txt"), "changed\n");
  const remounted = (await build([...args, "-t", "fromnamed:mount"], mountDf)).find((s) => s.instruction.startsWith("RUN"));
  assert.equal(remounted?.cached, false);
  await writeFile(join(dir, "ctx", "Dockerfile"), "FROM busybox:local\nRUN --mount=from=mybase,source=skip,target=/m ls /m\n");
  const ignored = await tsbuild(["--root", root, "build", "-q", ...args, join(dir, "ctx")]);
  assert.equal(ignored.code, 1);
  assert.match(ignored.stderr, /Dockerfile:2: RUN --mount source skip: not found in mybase/);
});
