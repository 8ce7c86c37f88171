// Git sources and remote contexts against servers the test runs on 127.0.0.1: `git daemon` over a bare
// repository the test makes (ADD git://…#ref[:subdir], --keep-git-dir, the commit keying the step, an
// unknown ref), a repository as the build context, and an http tarball and a plain Dockerfile URL as
// the context.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gitFailure, parseGitSource } from "../runtime/git.js";
import { freshStore, removeStore, tsbuild, tsbuildOk } from "./helpers.js";

let dir: string;
let root: string;
let daemon: ChildProcess;
let http: Server;
let repo: string;
let httpBase: string;
const served = new Map<string, Buffer>();

function gitIn(cwd: string, ...args: string[]): string {
  return execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "init.defaultBranch=main", ...args], { cwd, encoding: "utf8", env: { ...process.env, GIT_COMMITTER_DATE: "2024-01-01T00:00:00Z", GIT_AUTHOR_DATE: "2024-01-01T00:00:00Z" } });
}

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer().once("error", fail).listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => ok(typeof a === "object" && a ? a.port : 0));
    });
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "tsbuild-git-"));
  const work = join(dir, "work");
  await mkdir(join(work, "sub"), { recursive: true });
  await writeFile(join(work, "a.txt"), "a v1\n");
  await writeFile(join(work, "sub", "b.txt"), "b\n");
  await writeFile(join(work, "sub", "Dockerfile"), "FROM busybox:local\nCOPY b.txt /from-git-context\n");
  gitIn(dir, "init", "-q", work);
  gitIn(work, "add", ".");
  gitIn(work, "commit", "-q", "-m", "one");
  gitIn(work, "tag", "-a", "v1", "-m", "v1");
  await mkdir(join(dir, "srv"));
  gitIn(join(dir, "srv"), "clone", "-q", "--bare", work, "repo.git");
  const port = await freePort();
  daemon = spawn("git", ["daemon", "--reuseaddr", "--export-all", `--base-path=${join(dir, "srv")}`, "--listen=127.0.0.1", `--port=${port}`, join(dir, "srv")], { stdio: "ignore" });
  repo = `git://127.0.0.1:${port}/repo.git`;
  for (let i = 0; i < 100; i++) {
    try {
      execFileSync("git", ["ls-remote", repo], { stdio: "pipe" });
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  http = createHttpServer((req, res) => {
    const body = served.get(req.url ?? "");
    if (body === undefined) res.writeHead(404).end();
    else res.writeHead(200).end(body);
  });
  await new Promise<void>((ok) => http.listen(0, "127.0.0.1", ok));
  const a = http.address();
  httpBase = `http://127.0.0.1:${typeof a === "object" && a ? a.port : 0}`;
  root = await freshStore();
});

after(async () => {
  daemon?.kill();
  http?.closeAllConnections();
  await new Promise<void>((ok) => (http ? http.close(() => ok()) : ok()));
  if (root) await removeStore(root);
  await rm(dir, { recursive: true, force: true });
});

const cat = async (image: string, cmd: string): Promise<string> => (await tsbuildOk(["--root", root, "run", "--rm", image, "sh", "-c", cmd])).stdout;

interface Step { instruction: string; cached: boolean; reason?: string }
async function build(dockerfile: string, tag: string): Promise<{ code: number | null; stderr: string; steps: Step[] }> {
  const ctx = join(dir, "ctx");
  await mkdir(ctx, { recursive: true });
  await writeFile(join(ctx, "Dockerfile"), dockerfile);
  const report = join(dir, "report.json");
  const r = await tsbuild(["--root", root, "build", "-q", "--report", report, "-t", tag, ctx]);
  const steps = r.code === 0 ? (JSON.parse(await readFile(report, "utf8")) as { steps: Step[] }).steps : [];
  return { code: r.code, stderr: r.stderr, steps };
}

test("git references are read as BuildKit reads them", () => {
  assert.deepEqual(parseGitSource("https://github.com/moby/buildkit.git#v0.13.0:frontend"), { remote: "https://github.com/moby/buildkit.git", ref: "v0.13.0", subdir: "frontend" });
  assert.deepEqual(parseGitSource("git@github.com:moby/buildkit.git"), { remote: "git@github.com:moby/buildkit.git" });
  assert.deepEqual(parseGitSource("git://host/r#main"), { remote: "git://host/r", ref: "main" });
  assert.equal(parseGitSource("https://example.com/file.tar.gz"), undefined);
  assert.equal(parseGitSource("src/app.git"), undefined);
});

test("a git failure is the one line saying why, with ssh's reason before git's", () => {
  const ssh = "git@h: Permission denied (publickey).\nfatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\nand the repository exists.\n";
  assert.equal(gitFailure(ssh, 128), "git@h: Permission denied (publickey); Could not read from remote repository.");
  assert.equal(gitFailure("fatal: remote error: access denied or repository not exported: /x.git\n", 128), "remote error: access denied or repository not exported: /x.git");
  assert.equal(gitFailure("", 1), "exit code 1");
});

test("ADD of a repository: a tag, a branch's subfolder, --keep-git-dir; the commit keys the step", async () => {
  const df = `FROM busybox:local\nADD ${repo}#v1 /src\nADD ${repo}#main:sub /sub\nADD --keep-git-dir=true ${repo} /kept\nRUN cat /src/a.txt > /seen\n`;
  const first = await build(df, "git:1");
  assert.equal(first.code, 0, first.stderr);
  assert.equal(await cat("git:1", "cat /seen; ls /sub; ls -a /src | grep -c '^.git$'; test -d /kept/.git && echo kept"), "a v1\nDockerfile\nb.txt\n0\nkept\n");
  const again = await build(df, "git:1");
  assert.ok(again.steps.filter((s) => /^(ADD|RUN)/.test(s.instruction)).every((s) => s.cached), JSON.stringify(again.steps));

  // a new commit on main: the steps that follow main rebuild, the tag's does not
  const work = join(dir, "work");
  await writeFile(join(work, "sub", "b.txt"), "b v2\n");
  gitIn(work, "commit", "-q", "-am", "two");
  gitIn(work, "push", "-q", join(dir, "srv", "repo.git"), "main");
  const changed = await build(df, "git:1");
  const adds = changed.steps.filter((s) => s.instruction.startsWith("ADD"));
  assert.deepEqual(adds.map((s) => s.cached), [true, false, false]);
  assert.match(adds[1]?.reason ?? "", /git:\/\/127\.0\.0\.1:\d+\/repo\.git#main:sub changed/);
  assert.equal(await cat("git:1", "cat /sub/b.txt"), "b v2\n");

  const missing = await build(`FROM busybox:local\nADD ${repo}#nosuchbranch /x\n`, "git:2");
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr.trim().split("\n").length, 1);
  assert.match(missing.stderr, /Dockerfile:2: ADD git git:\/\/127\.0\.0\.1:\d+\/repo\.git: no ref nosuchbranch/);
  assert.deepEqual((await readdir(join(root, "tmp"))).filter((n) => n.startsWith("addgit")), []);
});

test("submodules are checked out as BuildKit does (update --init --recursive --depth=1), served by the daemon", async () => {
  const host = repo.slice(0, repo.lastIndexOf("/"));
  const lib = join(dir, "libwork");
  await mkdir(lib);
  await writeFile(join(lib, "lib.txt"), "from the submodule\n");
  gitIn(dir, "init", "-q", lib);
  gitIn(lib, "add", ".");
  gitIn(lib, "commit", "-q", "-m", "lib");
  gitIn(join(dir, "srv"), "clone", "-q", "--bare", lib, "lib.git");
  const sup = join(dir, "superwork");
  await mkdir(sup);
  await writeFile(join(sup, "top.txt"), "top\n");
  gitIn(dir, "init", "-q", sup);
  gitIn(sup, "submodule", "add", "-q", `${host}/lib.git`, "lib");
  gitIn(sup, "add", ".");
  gitIn(sup, "commit", "-q", "-m", "with a submodule");
  gitIn(join(dir, "srv"), "clone", "-q", "--bare", sup, "super.git");
  const r = await build(`FROM busybox:local\nADD ${host}/super.git#main /s\nADD --keep-git-dir=true ${host}/super.git#main /k\n`, "gitsub:1");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await cat("gitsub:1", "cat /s/top.txt /s/lib/lib.txt; test -d /s/.git || echo no-git-dir; ls -A /s/lib"), "top\nfrom the submodule\nno-git-dir\n.git\nlib.txt\n");
  // the kept .git as BuildKit 0.13 leaves it: the branch under its name (and under refs/tags, as its bare
  // repository's tags/REF brings along), no remote-tracking refs, no FETCH_HEAD, an empty reflog
  assert.equal(await cat("gitsub:1", "cd /k/.git && cat refs/heads/main refs/tags/main; test -e FETCH_HEAD || echo no-fetch-head; test -e refs/remotes || echo no-remotes; wc -c < logs/HEAD; cat /k/lib/lib.txt"),
    `${gitIn(sup, "rev-parse", "HEAD").repeat(2)}no-fetch-head\nno-remotes\n0\nfrom the submodule\n`);
});

test("a repository, an http tarball and a Dockerfile URL as the build context", async () => {
  await tsbuildOk(["--root", root, "build", "-q", "-t", "gitctx:1", `${repo}#main:sub`]);
  assert.equal(await cat("gitctx:1", "cat /from-git-context"), "b v2\n");

  const src = join(dir, "tarctx");
  await mkdir(src);
  await writeFile(join(src, "Dockerfile"), "FROM busybox:local\nCOPY hello.txt /hello\n");
  await writeFile(join(src, "hello.txt"), "from a tarball\n");
  served.set("/ctx.tar.gz", execFileSync("tar", ["-C", src, "-czf", "-", "."]));
  served.set("/Dockerfile", Buffer.from("FROM busybox:local\nRUN echo from-url > /u\n"));
  await tsbuildOk(["--root", root, "build", "-q", "-t", "tarctx:1", `${httpBase}/ctx.tar.gz`]);
  assert.equal(await cat("tarctx:1", "cat /hello"), "from a tarball\n");
  await tsbuildOk(["--root", root, "build", "-q", "-t", "dfurl:1", `${httpBase}/Dockerfile`]);
  assert.equal(await cat("dfurl:1", "cat /u"), "from-url\n");
  const gone = await tsbuild(["--root", root, "build", "-q", `${httpBase}/missing.tar`]);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /unable to prepare context: http:\/\/127\.0\.0\.1:\d+\/missing\.tar: 404/);
  assert.deepEqual(await readdir(join(root, "tmp")), []);
});

// exclude_patterns_test.go's second half reads its files from a git repository: the patterns apply below
// the repository's root (`*.txt` is its top level only, as in .dockerignore), and enter the step's key
test("ADD --exclude of a repository leaves out what its patterns name below the repository's root", async () => {
  const df = `FROM busybox:local\nADD --exclude=sub/Dockerfile --exclude=*.txt ${repo}#v1 /x\nRUN find /x | sort > /seen\n`;
  const r = await build(df, "git:ex");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await cat("git:ex", "cat /seen"), "/x\n/x/sub\n/x/sub/b.txt\n");
  const other = await build(df.replace("--exclude=*.txt ", ""), "git:ex2");
  assert.equal(other.code, 0, other.stderr);
  assert.equal(other.steps.find((s) => s.instruction.startsWith("ADD"))?.cached, false, "other patterns, another key");
});
