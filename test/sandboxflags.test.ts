// What a build may change in its RUN sandbox, as docker build spells it: --add-host, --shm-size,
// --ulimit, RUN --security=insecure under --allow security.insecure (refused without it), and the
// predefined proxy build args (in RUN's environment undeclared, out of history and of the cache key).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAddHost, parseBytes, parseUlimit } from "../cli/sandboxflags.js";
import { freshStore, removeStore, tsbuild, tsbuildOk } from "./helpers.js";

let root: string;
let ctx: string;

before(async () => {
  root = await freshStore();
  ctx = await mkdtemp(join(tmpdir(), "tsbuild-sandbox-"));
});
after(async () => {
  await removeStore(root);
  await rm(ctx, { recursive: true, force: true });
});

const cat = async (image: string, path: string): Promise<string> => (await tsbuildOk(["--root", root, "run", "--rm", image, "cat", path])).stdout;

test("flag parsing: hosts, sizes, limits", () => {
  assert.deepEqual(parseAddHost("db:10.1.2.3"), { host: "db", ip: "10.1.2.3" });
  assert.deepEqual(parseAddHost("v6:::1"), { host: "v6", ip: "::1" });
  assert.throws(() => parseAddHost("nohost"), /invalid --add-host "nohost"/);
  assert.equal(parseBytes("128m", "--shm-size"), 128 * 1024 * 1024);
  assert.equal(parseBytes("1g", "--shm-size"), 1024 ** 3);
  assert.throws(() => parseBytes("lots", "--shm-size"), /invalid --shm-size "lots"/);
  assert.deepEqual(parseUlimit("nofile=1024:2048"), { type: "RLIMIT_NOFILE", soft: 1024, hard: 2048 });
  assert.deepEqual(parseUlimit("nproc=77"), { type: "RLIMIT_NPROC", soft: 77, hard: 77 });
  assert.throws(() => parseUlimit("files=1"), /invalid --ulimit "files=1"/);
});

test("--add-host, --shm-size and --ulimit reach RUN, and are part of its key", async () => {
  await writeFile(join(ctx, "Dockerfile"), [
    "FROM busybox:local",
    "RUN cat /etc/hosts > /hosts && df -k /dev/shm | tail -1 | awk '{print $2}' > /shm && ulimit -n > /nofile",
    "",
  ].join("\n"));
  const args = ["--root", root, "build", "-q", "-t", "sb:1", "--add-host", "db.local:10.9.8.7", "--shm-size", "128m", "--ulimit", "nofile=512:1024", ctx];
  await tsbuildOk(args);
  assert.match(await cat("sb:1", "/hosts"), /^10\.9\.8\.7\tdb\.local$/m);
  assert.equal(await cat("sb:1", "/shm"), `${128 * 1024}\n`);
  assert.equal(await cat("sb:1", "/nofile"), "512\n");
  const report = join(ctx, "r.json");
  await tsbuildOk(["--root", root, "build", "-q", "--report", report, "-t", "sb:2", "--shm-size", "64m", ctx]);
  const steps = (JSON.parse(await readFile(report, "utf8")) as { steps: Array<{ instruction: string; cached: boolean }> }).steps;
  assert.equal(steps.find((s) => s.instruction.startsWith("RUN"))?.cached, false, "another sandbox is another step");
});

test("RUN --security=insecure needs --allow security.insecure, then runs with every capability", async () => {
  await writeFile(join(ctx, "Dockerfile"), "FROM busybox:local\nRUN --security=insecure grep CapEff /proc/self/status > /caps\n");
  const refused = await tsbuild(["--root", root, "build", "-q", "-t", "insecure:1", ctx]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /Dockerfile:2: RUN --security=insecure is not allowed: build with --allow security.insecure/);
  await tsbuildOk(["--root", root, "build", "-q", "-t", "insecure:1", "--allow", "security.insecure", ctx]);
  const caps = (await cat("insecure:1", "/caps")).trim().split(/\s+/)[1] ?? "";
  // every capability tsbuild may pass on (its own bounding set), far more than Docker's default 0xa80425fb
  const own = (await readFile("/proc/self/status", "utf8")).split("\n").find((l) => l.startsWith("CapBnd:"))?.split(/\s+/)[1] ?? "";
  assert.equal(caps, own);
});

test("proxy build args reach RUN without ARG, but stay out of history and of the cache key", async () => {
  await writeFile(join(ctx, "Dockerfile"), "FROM busybox:local\nRUN echo \"proxy=$HTTP_PROXY no=$no_proxy\" > /proxy && echo \"$http_proxy $NO_PROXY\" > /other\n");
  const build = (proxy: string): Promise<unknown> => tsbuildOk(["--root", root, "build", "-q", "-t", "proxy:1", "--build-arg", `HTTP_PROXY=${proxy}`, "--build-arg", "no_proxy=localhost", ctx]);
  await build("http://proxy.invalid:3128");
  // under both spellings, as BuildKit's ProxyEnv sets them (HTTP_PROXY given, no_proxy given)
  assert.equal(await cat("proxy:1", "/proxy"), "proxy=http://proxy.invalid:3128 no=localhost\n");
  assert.equal(await cat("proxy:1", "/other"), "http://proxy.invalid:3128 localhost\n");
  const history = (await tsbuildOk(["--root", root, "history", "--no-trunc", "--format", "{{.CreatedBy}}", "proxy:1"])).stdout;
  assert.doesNotMatch(history, /proxy\.invalid|no_proxy=localhost/);
  const report = join(ctx, "p.json");
  const r = await tsbuildOk(["--root", root, "build", "--progress", "plain", "--report", report, "-t", "proxy:1", "--build-arg", "HTTP_PROXY=http://other.invalid:8080", "--build-arg", "no_proxy=localhost", ctx]);
  const steps = (JSON.parse(await readFile(report, "utf8")) as { steps: Array<{ instruction: string; cached: boolean }> }).steps;
  assert.equal(steps.find((s) => s.instruction.startsWith("RUN"))?.cached, true, "a new proxy does not rebuild");
  assert.doesNotMatch(r.stderr, /not consumed/);
});
