// `build --platform linux/amd64,linux/arm64`: each platform built (RUN through the emulator `make test`
// sets up), one OCI image index under the tag; a `FROM --platform=$BUILDPLATFORM` stage shared by both
// is built once; images shows one row; inspect, history and run take --platform; save/load keep the
// index; push writes the index and both manifests, which skopeo reads back.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ARM64_EMULATION_MISSING, BUSYBOX_CHANGES, REPO, freshStore, removeStore, setCaseModes, tsbuild, tsbuildOk } from "./helpers.js";
import { compareSummaries, summarizeArchive, type ImageSummary } from "./imgtree.js";
import { startRegistry, type TestRegistry } from "./registryserver.js";

const ARM64_BUSYBOX = join(REPO, ".tmp", "busybox-arm64", "bin", "busybox");
const INDEX = "application/vnd.oci.image.index.v1+json";
let root: string;
let dir: string;
let reg: TestRegistry | undefined;

interface IndexJson { mediaType: string; manifests: { mediaType: string; digest: string; platform?: { os: string; architecture: string } }[] }

before(async () => {
  if (ARM64_EMULATION_MISSING !== undefined) return; // every test here is skipped, saying why
  assert.ok(existsSync(ARM64_BUSYBOX), `${ARM64_BUSYBOX} is made by \`make test\` (Debian's busybox-static:arm64)`);
  root = await freshStore();
  dir = await mkdtemp(join(tmpdir(), "tsbuild-multiplatform-"));
  const tar = join(dir, "busybox-arm64.tar");
  execFileSync(join(REPO, "testdata", "busybox", "make-rootfs.sh"), [tar], { env: { ...process.env, BUSYBOX: ARM64_BUSYBOX } });
  await tsbuildOk(["--root", root, "import", "--platform", "linux/arm64", tar, "busybox-arm64:local", ...BUSYBOX_CHANGES]);
  await tsbuildOk(["--root", root, "tag", "busybox:local", "busybox-amd64:local"]);
  // a two-platform base, each platform's files picked by TARGETARCH
  await build(["--platform", "linux/amd64,linux/arm64", "-t", "bb:multi"], "FROM scratch\nARG TARGETARCH\nCOPY --from=busybox-${TARGETARCH}:local / /\nCMD [\"sh\"]\n");
});
after(async () => {
  if (root !== undefined) await removeStore(root);
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  await reg?.stop();
});

async function build(args: string[], dockerfile: string, store = root): Promise<string> {
  const ctx = await mkdtemp(join(dir, "ctx-"));
  await writeFile(join(ctx, "Dockerfile"), dockerfile);
  const r = await tsbuild(["--root", store, "build", "-q", ...args, ctx]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

test("two platforms build side by side: their RUN steps overlap", { skip: ARM64_EMULATION_MISSING }, async () => {
  const ctx = await mkdtemp(join(dir, "ctx-"));
  await writeFile(join(ctx, "Dockerfile"), "FROM bb:multi\nRUN sleep 2 && uname -m > /arch\n");
  const r = await tsbuild(["--root", root, "build", "--progress", "json", "--platform", "linux/amd64,linux/arm64", "-t", "side:by", ctx]);
  assert.equal(r.code, 0, r.stderr);
  const at = new Map<string, number>();
  for (const line of `${r.stdout}\n${r.stderr}`.split("\n")) {
    if (!line.startsWith("{")) continue;
    const e = JSON.parse(line) as { type: string; time: string; step?: { stage: string; instruction: string } };
    if (e.step?.instruction.startsWith("RUN") && (e.type === "step-start" || e.type === "step-done")) at.set(`${e.type} ${e.step.stage}`, Date.parse(e.time));
  }
  const t = (k: string): number => {
    const v = at.get(k);
    assert.ok(v !== undefined, `no ${k} event`);
    return v;
  };
  const [sa, da, sb, db] = ["step-start linux/amd64 stage-0", "step-done linux/amd64 stage-0", "step-start linux/arm64 stage-0", "step-done linux/arm64 stage-0"].map(t);
  assert.ok(sa! < db! && sb! < da!, `one platform after the other: amd64 ${sa}..${da}, arm64 ${sb}..${db}`);
});

test("a platform that fails stops the build: its error, no tag, nothing mounted, the store checks clean", { skip: ARM64_EMULATION_MISSING }, async () => {
  const ctx = await mkdtemp(join(dir, "ctx-"));
  await writeFile(join(ctx, "Dockerfile"), "FROM bb:multi\nRUN sleep 1; [ \"$(uname -m)\" = x86_64 ] || exit 7\n");
  const r = await tsbuild(["--root", root, "build", "--progress", "plain", "--platform", "linux/amd64,linux/arm64", "-t", "fails:one", ctx]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /Dockerfile:2/);
  assert.match(r.stderr, /^error: .*Dockerfile:2: RUN .* exit code 7$/m, "the failing platform's error, not the other one's cancellation");
  assert.equal((await tsbuild(["--root", root, "inspect", "fails:one"])).code, 1, "no tag written");
  const mounts = await readFile("/proc/self/mounts", "utf8");
  assert.ok(!mounts.includes(root), `mounts left under the store:\n${mounts.split("\n").filter((l) => l.includes(root)).join("\n")}`);
  const check = await tsbuild(["--root", root, "system", "check"]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
});

async function layoutIndex(store: string, name: string): Promise<IndexJson> {
  const entries = JSON.parse(await readFile(join(store, "index.json"), "utf8")) as { manifests: { digest: string; mediaType: string; annotations?: Record<string, string> }[] };
  const entry = entries.manifests.find((m) => m.annotations?.["org.opencontainers.image.ref.name"] === name);
  assert.ok(entry, `${name} in ${store}/index.json`);
  assert.equal(entry.mediaType, INDEX);
  return JSON.parse(await readFile(join(store, "blobs", "sha256", entry.digest.slice(7)), "utf8")) as IndexJson;
}

const platformsOf = (index: IndexJson): string[] => index.manifests.map((m) => `${m.platform?.os}/${m.platform?.architecture}`);
const out = async (args: string[], store = root): Promise<string> => (await tsbuildOk(["--root", store, ...args])).stdout;

const APP = [
  "FROM --platform=$BUILDPLATFORM bb:multi AS build",
  "ARG BUILDARCH",
  "RUN echo built-on-$(uname -m) > /built",
  "FROM bb:multi",
  "COPY --from=build /built /built",
  "RUN uname -m > /arch",
  "",
].join("\n");

test("two platforms: an index with both; RUN ran each architecture; the $BUILDPLATFORM stage was built once", { skip: ARM64_EMULATION_MISSING }, async () => {
  const report = join(dir, "report.json");
  const id = await build(["--platform", "linux/amd64,linux/arm64", "-t", "app:multi", "--report", report], APP);
  const index = await layoutIndex(root, "docker.io/library/app:multi");
  assert.equal(id, (JSON.parse(await readFile(join(root, "index.json"), "utf8")) as IndexJson).manifests.find((m) => m.mediaType === INDEX && m.digest === id)?.digest, "-q prints the index digest");
  assert.deepEqual(platformsOf(index), ["linux/amd64", "linux/arm64"]);
  assert.equal(await out(["run", "--rm", "--platform", "linux/arm64", "app:multi", "cat", "/arch", "/built"]), "aarch64\nbuilt-on-x86_64\n");
  assert.equal(await out(["run", "--rm", "--platform", "linux/amd64", "app:multi", "cat", "/arch", "/built"]), "x86_64\nbuilt-on-x86_64\n");
  assert.equal(await out(["run", "--rm", "app:multi", "cat", "/arch"]), "x86_64\n", "without --platform: this machine's");
  const steps = (JSON.parse(await readFile(report, "utf8")) as { steps: { stage: string; instruction: string; cached: boolean }[] }).steps;
  // the platforms run side by side: whichever reaches the native stage's RUN first builds it, the other
  // waits for that key and takes it from the cache
  const buildRun = steps.filter((s) => s.instruction.startsWith("RUN echo built-on"));
  assert.deepEqual(buildRun.map((s) => s.cached).sort(), [false, true], "the native stage: built for one platform, a cache hit for the other");
  assert.deepEqual(buildRun.map((s) => s.stage).sort(), ["linux/amd64 build", "linux/arm64 build"], "stages named with their platform, as BuildKit's progress");
  assert.deepEqual(steps.filter((s) => s.instruction === "RUN uname -m > /arch").map((s) => s.cached), [false, false], "the target stage: once per platform");

  // images: one row; inspect and history take --platform
  const rows = (await out(["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"])).split("\n").filter((l) => l.startsWith("app:multi"));
  assert.equal(rows.length, 1, rows.join("\n"));
  assert.equal(rows[0], `app:multi ${id.slice(7, 19)}`, "known by its index digest, as Docker's containerd image store");
  assert.equal((await out(["inspect", "-f", "{{.Architecture}}", id.slice(7, 19)])).trim(), "amd64", "and found by it");
  assert.equal((await out(["inspect", "-f", "{{.Architecture}}", "--platform", "linux/arm64", "app:multi"])).trim(), "arm64");
  assert.equal((await out(["inspect", "-f", "{{.Architecture}}", "app:multi"])).trim(), "amd64");
  for (const platform of [[], ["--platform", "linux/arm64"]]) {
    assert.equal((await out(["inspect", "-f", "{{.Id}}", ...platform, "app:multi"])).trim(), id, "inspect's Id is the ID images shows");
  }
  assert.match(await out(["history", "--platform", "linux/arm64", "app:multi"]), /uname -m/);
  const missing = await tsbuild(["--root", root, "inspect", "--platform", "linux/s390x", "app:multi"]);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr.trim().split("\n").length, 1, missing.stderr);
  assert.match(missing.stderr, /no matching manifest for linux\/s390x .*available: linux\/amd64, linux\/arm64/);

  // rebuilt: every step from the cache, the same index
  const again = await build(["--platform", "linux/amd64,linux/arm64", "-t", "app:multi"], APP);
  assert.equal(again, id);
});

test("a platform that cannot run is refused before any step; other platforms' blobs survive a prune", { skip: ARM64_EMULATION_MISSING }, async () => {
  const ctx = await mkdtemp(join(dir, "ctx-"));
  await writeFile(join(ctx, "Dockerfile"), "FROM bb:multi\nRUN true\n");
  const r = await tsbuild(["--root", root, "build", "--platform", "linux/amd64,linux/mips64le", ctx]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /platform linux\/mips64le cannot run/);
  await tsbuildOk(["--root", root, "image", "prune", "-f"]);
  assert.equal(await out(["run", "--rm", "--platform", "linux/arm64", "app:multi", "cat", "/arch"]), "aarch64\n");
  const check = await tsbuild(["--root", root, "system", "check"]);
  assert.equal(check.code, 0, `system check reads the indexes and each platform's image:\n${check.stdout}${check.stderr}`);
});

test("save --format oci keeps the index and load keeps it; a docker-archive holds one platform", { skip: ARM64_EMULATION_MISSING }, async () => {
  const oci = join(dir, "multi-oci.tar");
  await tsbuildOk(["--root", root, "save", "--format", "oci", "-o", oci, "app:multi"]);
  const other = await freshStore();
  try {
    await tsbuildOk(["--root", other, "load", "-i", oci]);
    assert.deepEqual(platformsOf(await layoutIndex(other, "docker.io/library/app:multi")), ["linux/amd64", "linux/arm64"]);
    assert.equal((await out(["images", "--format", "{{.Repository}}:{{.Tag}}"], other)).split("\n").filter((l) => l === "app:multi").length, 1);
    assert.equal(await out(["run", "--rm", "--platform", "linux/arm64", "app:multi", "cat", "/arch"], other), "aarch64\n");
    assert.equal(await out(["inspect", "-f", "{{.Id}}", "--platform", "linux/arm64", "app:multi"], other), await out(["inspect", "-f", "{{.Id}}", "--platform", "linux/arm64", "app:multi"]));

    const docker = join(dir, "arm64-docker.tar");
    await tsbuildOk(["--root", root, "save", "--platform", "linux/arm64", "-o", docker, "app:multi"]);
    const manifest = JSON.parse(execFileSync("tar", ["-xOf", docker, "manifest.json"], { encoding: "utf8" })) as unknown[];
    assert.equal(manifest.length, 1);
    await tsbuildOk(["--root", other, "load", "-i", docker]);
    assert.equal((await out(["inspect", "-f", "{{.Architecture}}", "app:multi"], other)).trim(), "arm64", "a docker-archive's image: the one platform, tagged");
  } finally {
    await removeStore(other);
  }
});

test("push writes the index and both manifests: skopeo reads them; pull --all-platforms and --platform; manifest inspect", { skip: ARM64_EMULATION_MISSING }, async () => {
  reg = await startRegistry();
  const name = `${reg.host}/multi/app:1`;
  await tsbuildOk(["--root", root, "tag", "app:multi", name]);
  const pushed = await out(["push", name]);
  const digest = /^1: digest: (sha256:[a-f0-9]{64}) size: \d+$/m.exec(pushed)?.[1];
  assert.ok(digest, pushed);
  const run = promisify(execFile);
  const raw = JSON.parse((await run("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${name}`])).stdout) as IndexJson;
  assert.equal(raw.mediaType, INDEX);
  assert.deepEqual(platformsOf(raw), ["linux/amd64", "linux/arm64"]);
  const layout = join(dir, "skopeo-arm64");
  await run("skopeo", ["copy", "--src-tls-verify=false", "--override-arch", "arm64", `docker://${name}`, `oci:${layout}:arm64`]);
  const config = JSON.parse((await run("skopeo", ["inspect", "--config", `oci:${layout}:arm64`])).stdout) as { architecture: string };
  assert.equal(config.architecture, "arm64");
  // umoci unpacks the arm64 image skopeo chose: its RUN ran arm64
  const bundle = join(dir, "umoci-bundle");
  await run("umoci", ["unpack", "--image", `${layout}:arm64`, bundle]);
  assert.equal(await readFile(join(bundle, "rootfs", "arch"), "utf8"), "aarch64\n");
  // and skopeo reads the store's own index as it is
  const local = JSON.parse((await run("skopeo", ["inspect", "--override-arch", "arm64", "--config", `oci:${root}:docker.io/library/app:multi`])).stdout) as { architecture: string };
  assert.equal(local.architecture, "arm64");
  assert.match(await out(["manifest", "inspect", "--insecure", name]), /"architecture": "arm64"/);
  // build --push of a two-platform build pushes its index (every step from the cache here)
  const built = `${reg.host}/multi/app:2`;
  await build(["--platform", "linux/amd64,linux/arm64", "--push", "-t", built], APP);
  const again = JSON.parse((await run("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${built}`])).stdout) as IndexJson;
  assert.deepEqual(platformsOf(again), ["linux/amd64", "linux/arm64"]);

  const all = await freshStore();
  const one = await freshStore();
  try {
    const pulled = await out(["pull", "--all-platforms", name], all);
    assert.match(pulled, new RegExp(`^Digest: ${digest}$`, "m"));
    assert.deepEqual(platformsOf(await layoutIndex(all, name)), ["linux/amd64", "linux/arm64"]);
    assert.equal(await out(["run", "--rm", "--platform", "linux/arm64", name, "cat", "/arch"], all), "aarch64\n");
    await out(["pull", "--platform", "linux/arm64", name], one);
    assert.equal((await out(["inspect", "-f", "{{.Architecture}}", name], one)).trim(), "arm64");
  } finally {
    await removeStore(all);
    await removeStore(one);
  }
});

// BuildKit 0.13's results for `--platform linux/arm64` (testdata/platform/record.sh: the oracle's dockerd
// with the arm64 busybox imported as busybox-arm64:local), compared file by file with tsbuild's.
for (const name of ["arm64-run", "arm64-cross"]) {
  test(`matches BuildKit's recorded arm64 build: testdata/platform/${name}`, { skip: ARM64_EMULATION_MISSING }, async () => {
    // a copy with the modes git gives a checkout whatever the umask (as the case runner does)
    const caseDir = await mkdtemp(join(dir, `${name}-`));
    await cp(join(REPO, "testdata", "platform", name), caseDir, { recursive: true });
    setCaseModes(caseDir, false);
    const expected = JSON.parse(await readFile(join(caseDir, "expected.json"), "utf8")) as ImageSummary;
    const tag = `platform-${name}:test`;
    const r = await tsbuild(["--root", root, "build", "-q", "--platform", "linux/arm64", "-t", tag, "-f", join(caseDir, "Dockerfile"), join(caseDir, "ctx")]);
    assert.equal(r.code, 0, r.stderr);
    const archive = join(dir, `${name}.tar`);
    await tsbuildOk(["--root", root, "save", "-o", archive, tag]);
    const actual = await summarizeArchive(archive);
    assert.equal(actual.architecture, expected.architecture);
    const diffs = compareSummaries(expected, actual);
    assert.deepEqual(diffs.slice(0, 25), [], `${diffs.length} differences from BuildKit`);
  });
}

test("--cache-to of a two-platform build keeps both platforms' records: another store takes every step from it", { skip: ARM64_EMULATION_MISSING }, async () => {
  const cacheDir = join(dir, "cache");
  await build(["--platform", "linux/amd64,linux/arm64", "-t", "app:multi", "--cache-to", `type=local,dest=${cacheDir},mode=max`], APP);
  const bases = join(dir, "bases.tar");
  await tsbuildOk(["--root", root, "save", "--format", "oci", "-o", bases, "bb:multi"]);
  const other = await freshStore();
  try {
    await tsbuildOk(["--root", other, "load", "-i", bases]);
    const report = join(dir, "cache-report.json");
    await build(["--platform", "linux/amd64,linux/arm64", "-t", "app:multi", "--cache-from", `type=local,src=${cacheDir}`, "--report", report], APP, other);
    const steps = (JSON.parse(await readFile(report, "utf8")) as { steps: { stage: string; instruction: string; cached: boolean }[] }).steps;
    const runs = steps.filter((s) => s.instruction.startsWith("RUN"));
    assert.equal(runs.length, 4);
    assert.deepEqual(runs.filter((s) => !s.cached).map((s) => `${s.stage}: ${s.instruction}`), []);
    assert.equal(await out(["run", "--rm", "--platform", "linux/arm64", "app:multi", "cat", "/arch"], other), "aarch64\n");
  } finally {
    await removeStore(other);
  }
});
