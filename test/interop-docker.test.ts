// Interop with Docker itself: needs the oracle's dockerd (unix:///tmp/anchors/docker.sock, busybox:local
// in it), which `make interop` starts with ../shared/oracle/anchors-up.sh before running this file.
// Not part of `make test` (CI has no dockerd); without the daemon every test here FAILS, never skips.
// Only images named tsbuild-interop-<pid>-* (and a container of that name) are created in the daemon,
// and only they are removed; the image prune it runs matches a label only its own image carries.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { TSBUILD, freshStore, removeStore, tsbuildOk } from "./helpers.js";

const exec = promisify(execFile);
const SOCKET = "/tmp/anchors/docker.sock";
const DOCKER_ENV = { ...process.env, DOCKER_HOST: `unix://${SOCKET}`, DOCKER_BUILDKIT: "1" };
const PREFIX = `tsbuild-interop-${process.pid}`;

let dir: string;
let root: string;
const dockerTags: string[] = [];

async function docker(args: string[]): Promise<string> {
  return (await exec("/usr/bin/docker", args, { env: DOCKER_ENV, maxBuffer: 64 << 20 })).stdout;
}

async function ts(args: string[]): Promise<string> {
  return (await tsbuildOk(["--root", root, ...args])).stdout;
}

function daemonMissing(): string | undefined {
  return existsSync(SOCKET) ? undefined : `no Docker daemon at ${SOCKET}: run \`make interop\` (it starts the oracle's dockerd with ../shared/oracle/anchors-up.sh)`;
}

async function tarNames(file: string): Promise<string[]> {
  return (await exec("tar", ["tf", file])).stdout.split("\n").filter(Boolean);
}

/** history's CREATED BY, SIZE and COMMENT cells (not the times), cut at the header's column starts. */
function historyColumns(text: string): string[][] {
  const [header, ...rows] = text.trimEnd().split("\n");
  const at = ["CREATED BY", "SIZE", "COMMENT"].map((h) => header!.indexOf(h));
  return rows.map((r) => at.map((start, i) => r.slice(start, at[i + 1]).trim()));
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "tsbuild-interop-docker-"));
  if (daemonMissing()) return;
  root = await freshStore();
});

after(async () => {
  for (const tag of dockerTags) {
    await docker(["rmi", tag]).catch((e: unknown) => {
      if (!String((e as { stderr?: unknown }).stderr).includes("No such image")) throw e; // a test stopped before loading it
    });
  }
  if (root) await removeStore(root);
  await rm(dir, { recursive: true, force: true });
});

test("an image saved by tsbuild loads with docker load, keeps its id, and runs", async () => {
  assert.equal(daemonMissing(), undefined, daemonMissing());
  const ctx = join(dir, "ts-ctx");
  await mkdir(ctx);
  await writeFile(join(ctx, "msg.txt"), "made by tsbuild\n");
  await writeFile(join(ctx, "Dockerfile"), [
    "FROM busybox:local",
    "RUN echo layer-one > /one",
    "COPY msg.txt /msg.txt",
    'CMD ["sh", "-c", "cat /one /msg.txt"]',
    "",
  ].join("\n"));
  const a = `${PREFIX}-ts:a`;
  const b = `${PREFIX}-ts:b`;
  await ts(["build", "-q", "-t", a, ctx]);
  await ts(["tag", "busybox:local", b]);
  const archive = join(dir, "from-tsbuild.tar");
  await ts(["save", a, b, "-o", archive]);
  // Two images sharing the busybox layer: the layer is in the file once.
  const [bbLayer] = JSON.parse(await ts(["inspect", "-f", "{{json .RootFS.Layers}}", b])) as string[];
  assert.equal((await tarNames(archive)).filter((n) => n === `blobs/sha256/${bbLayer?.slice(7)}`).length, 1);
  dockerTags.push(a, b);
  const loaded = await docker(["load", "-i", archive]);
  assert.match(loaded, new RegExp(`Loaded image: ${a}`));
  assert.match(loaded, new RegExp(`Loaded image: ${b}`));
  const id = (await ts(["inspect", "-f", "{{.Id}}", a])).trim();
  assert.equal((await docker(["image", "inspect", "-f", "{{.Id}}", a])).trim(), id);
  assert.equal(await docker(["run", "--rm", "--network", "none", a]), "layer-one\nmade by tsbuild\n");
  assert.equal(await docker(["run", "--rm", "--network", "none", b, "echo", "busybox runs"]), "busybox runs\n");
});

test("docker save of busybox:local and a docker-built image loads into tsbuild; FROM it builds and runs", async () => {
  assert.equal(daemonMissing(), undefined, daemonMissing());
  const ctx = join(dir, "docker-ctx");
  await mkdir(ctx);
  await writeFile(join(ctx, "Dockerfile"), [
    "FROM busybox:local",
    "RUN echo from-docker > /d1",
    "RUN mkdir /data && echo second > /data/d2 && ln -s /d1 /data/link",
    'CMD ["cat", "/d1"]',
    "",
  ].join("\n"));
  const built = `${PREFIX}-docker:1`;
  dockerTags.push(built);
  await docker(["build", "-q", "--network", "host", "-t", built, ctx]);
  const archive = join(dir, "from-docker.tar");
  await docker(["save", "-o", archive, "busybox:local", built]);
  const dockerLayers = JSON.parse(await docker(["image", "inspect", "-f", "{{json .RootFS.Layers}}", built])) as string[];
  assert.equal(dockerLayers.length, 3);
  const names = await tarNames(archive);
  const layerFiles = names.filter((n) => n.endsWith(dockerLayers[0]!.slice(7)) || n.includes(`${dockerLayers[0]!.slice(7)}/`));
  assert.equal(layerFiles.length, 1, `the shared busybox layer is stored once: ${layerFiles.join(", ")}`);

  const other = await mkdtemp(join(tmpdir(), "tsbuild-interop-docker-store-"));
  try {
    const run = (args: string[]): Promise<string> => tsbuildOk(["--root", other, ...args]).then((r) => r.stdout);
    const loaded = await run(["load", "-i", archive]);
    assert.match(loaded, /Loaded image: busybox:local/);
    assert.match(loaded, new RegExp(`Loaded image: ${built}`));
    const dockerId = (await docker(["image", "inspect", "-f", "{{.Id}}", built])).trim();
    assert.equal((await run(["inspect", "-f", "{{.Id}}", built])).trim(), dockerId);
    assert.equal(await run(["run", "--rm", built]), "from-docker\n");
    // The same numbers as Docker, with one known difference: Docker counts a symlink's target length
    // in a layer it unpacked (import, load: busybox's 268 links to "busybox" are in its 1984291 bytes)
    // but not in a layer BuildKit built; tsbuild always counts it, so the "ln -s /d1" layer is 3 more.
    const dockerSize = Number((await docker(["image", "inspect", "-f", "{{.Size}}", built])).trim());
    assert.equal(Number((await run(["inspect", "-f", "{{.Size}}", built])).trim()), dockerSize + "/d1".length);
    const ours = historyColumns(await run(["history", "--no-trunc", "-H=false", built]));
    const theirs = historyColumns(await docker(["history", "--no-trunc", "-H=false", built]))
      .map(([by, size, comment]) => [by!, by!.includes("ln -s /d1") ? String(Number(size) + 3) : size!, comment!]);
    assert.deepEqual(ours, theirs);
    const next = join(dir, "next-ctx");
    await mkdir(next);
    await writeFile(join(next, "Dockerfile"), [
      `FROM ${built}`,
      "RUN cat /d1 /data/d2 /data/link > /all",
      'CMD ["cat", "/all"]',
      "",
    ].join("\n"));
    await run(["build", "-q", "-t", "on-docker:1", next]);
    assert.equal(await run(["run", "--rm", "on-docker:1"]), "from-docker\nsecond\nfrom-docker\n");
    const layers = JSON.parse(await run(["inspect", "-f", "{{json .RootFS.Layers}}", "on-docker:1"])) as string[];
    assert.deepEqual(layers.slice(0, 3), dockerLayers, "built on Docker's layers as they are");
  } finally {
    await removeStore(other);
  }
});

// ---- side by side: the same commands through Docker's client and tsbuild, comparing output shapes
// (headers, columns, field names, exit codes), and the values where both hold the same image.

interface Ran { code: number; stdout: string; stderr: string }

/** Runs a command to its end without throwing; its exit code and output. */
function ran(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Ran> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env, maxBuffer: 64 << 20 }, (e, stdout, stderr) => {
      if (e && typeof (e as { code?: unknown }).code !== "number") return reject(e);
      resolve({ code: e ? Number((e as { code: number }).code) : 0, stdout, stderr });
    });
  });
}

/**
 * The Docker client the side-by-side runs compare with: the newest one on the machine. tsbuild follows
 * today's client (`--format json` came with 23; a 20.10 client also asks the daemon for API 1.41's older
 * shapes: ContainerConfig, VirtualSize), and the oracle's own /usr/bin/docker is 20.10.
 */
const CLIENTS = ["/usr/local/bin/docker", "/usr/bin/docker"];
const MODERN = CLIENTS.find((c) => existsSync(c) && Number(/version (\d+)\./.exec(execFileSync(c, ["--version"], { encoding: "utf8" }))?.[1] ?? 0) >= 23);

function modernMissing(): string | undefined {
  return daemonMissing() ?? (MODERN === undefined ? `no Docker client of version 23 or later (${CLIENTS.join(", ")}): the side-by-side runs compare with today's client` : undefined);
}

/** The same arguments through both clients. */
async function both(args: string[]): Promise<{ docker: Ran; ts: Ran }> {
  return { docker: await ran(MODERN ?? "docker", args, DOCKER_ENV), ts: await ran(process.execPath, [TSBUILD, "--root", root, ...args]) };
}

/** A table's header cells (columns are separated by at least two spaces). */
function header(text: string): string[] {
  return (text.split("\n")[0] ?? "").trim().split(/ {2,}/);
}

/** The field names of each JSON line, sorted. */
function jsonKeys(text: string): string[][] {
  return text.trim().split("\n").filter(Boolean).map((l) => Object.keys(JSON.parse(l) as object).sort());
}

const SHAPE = `${PREFIX}-shape:1`;
const PRUNED = `${PREFIX}-pruned:1`;
const CONTAINER = `${PREFIX}-c`;
let shapeReady: Promise<void> | undefined;

/** One image in both, the same (tsbuild builds it, Docker loads it): its id is the same on both sides. */
function shapeImage(): Promise<void> {
  shapeReady ??= (async () => {
    const ctx = join(dir, "shape-ctx");
    await mkdir(ctx, { recursive: true });
    await writeFile(join(ctx, "Dockerfile"), [
      "FROM busybox:local",
      `LABEL tsbuild-interop=${PREFIX}`,
      "ENV A=1 B=two",
      "RUN mkdir /d && echo hi > /d/f",
      'CMD ["sh"]',
      "",
    ].join("\n"));
    await writeFile(join(ctx, "Dockerfile.pruned"), `FROM busybox:local\nLABEL tsbuild-interop-prune=${PREFIX}\n`);
    await ts(["build", "-q", "-t", SHAPE, ctx]);
    await ts(["build", "-q", "-t", PRUNED, "-f", join(ctx, "Dockerfile.pruned"), ctx]);
    const archive = join(dir, "shape.tar");
    await ts(["save", SHAPE, PRUNED, "-o", archive]);
    dockerTags.push(SHAPE, PRUNED);
    await docker(["load", "-i", archive]);
  })();
  return shapeReady;
}

test("side by side: images (table, table TEMPLATE, json, -q)", async () => {
  assert.equal(modernMissing(), undefined, modernMissing());
  await shapeImage();
  const repo = SHAPE.split(":")[0]!;
  const plain = await both(["images", repo]);
  assert.deepEqual(header(plain.ts.stdout), header(plain.docker.stdout));
  assert.deepEqual(header(plain.ts.stdout), ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]);
  assert.equal(plain.ts.stdout.trim().split("\n").length, plain.docker.stdout.trim().split("\n").length);
  const cols = (t: string) => t.trim().split("\n")[1]!.split(/ {2,}/).filter((_, i) => i !== 3); // not CREATED
  assert.deepEqual(cols(plain.ts.stdout), cols(plain.docker.stdout));
  const table = await both(["images", "--format", "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.Size}}", repo]);
  assert.equal(table.ts.stdout, table.docker.stdout);
  const json = await both(["images", "--format", "json", repo]);
  assert.deepEqual(jsonKeys(json.ts.stdout), jsonKeys(json.docker.stdout));
  const quiet = await both(["images", "-q", repo]);
  assert.equal(quiet.ts.stdout, quiet.docker.stdout);
  const bad = await both(["images", "--format", "{{.Nope}}", repo]);
  assert.equal(bad.ts.code, bad.docker.code, `a field listings lack: ${bad.ts.stderr} / ${bad.docker.stderr}`);
});

test("side by side: history (table, --no-trunc columns, table TEMPLATE, json)", async () => {
  assert.equal(modernMissing(), undefined, modernMissing());
  await shapeImage();
  const plain = await both(["history", SHAPE]);
  assert.deepEqual(header(plain.ts.stdout), header(plain.docker.stdout));
  assert.equal(plain.ts.stdout.trim().split("\n").length, plain.docker.stdout.trim().split("\n").length);
  const full = await both(["history", "--no-trunc", "-H=false", SHAPE]);
  assert.deepEqual(historyColumns(full.ts.stdout), historyColumns(full.docker.stdout));
  const table = await both(["history", "--format", "table {{.ID}}\\t{{.CreatedBy}}\\t{{.Size}}\\t{{.Comment}}", SHAPE]);
  assert.equal(table.ts.stdout, table.docker.stdout);
  const json = await both(["history", "--format", "json", SHAPE]);
  assert.deepEqual(jsonKeys(json.ts.stdout), jsonKeys(json.docker.stdout));
  const text = (t: string) => t.trim().split("\n").map((l) => { const o = JSON.parse(l) as Record<string, string>; return [o.ID, o.CreatedBy, o.Size, o.Comment]; });
  assert.deepEqual(text(json.ts.stdout), text(json.docker.stdout), "the same cells, escaped as Go's JSON");
});

test("side by side: inspect --format templates give the same text; inspect's fields are Docker's", async () => {
  assert.equal(modernMissing(), undefined, modernMissing());
  await shapeImage();
  for (const format of [
    "{{.Id}}", "{{.Config.Cmd}}", "{{json .Config.Labels}}", "{{len .RootFS.Layers}}", "{{.Os}}/{{.Architecture}}",
    "{{range .Config.Env}}{{.}};{{end}}", "{{if .Config.Entrypoint}}ep{{else}}no-ep{{end}}", "{{index .Config.Labels \"tsbuild-interop\"}}",
    "{{range $i, $l := .RootFS.Layers}}{{$i}} {{end}}", "{{json .RootFS}}", "{{.Config.WorkingDir}}|{{.Config.User}}",
  ]) {
    const r = await both(["image", "inspect", "--format", format, SHAPE]);
    assert.equal(r.ts.code, 0, r.ts.stderr);
    assert.equal(r.ts.stdout, r.docker.stdout, format);
  }
  const full = await both(["image", "inspect", SHAPE]);
  const keys = (t: string) => Object.keys((JSON.parse(t) as Array<Record<string, unknown>>)[0]!).sort();
  // GraphDriver (the daemon's overlay2 folders) is the one field of Docker's tsbuild has no counterpart for
  assert.deepEqual(keys(full.ts.stdout), keys(full.docker.stdout).filter((k) => k !== "GraphDriver"));
  const configKeys = (t: string) => Object.keys((JSON.parse(t) as Array<{ Config: object }>)[0]!.Config).sort();
  assert.deepEqual(configKeys(full.ts.stdout), configKeys(full.docker.stdout));
  const missing = await both(["inspect", `${PREFIX}-no-such-image`]);
  assert.equal(missing.ts.code, missing.docker.code);
  assert.equal(missing.ts.stdout, missing.docker.stdout); // "[]"
});

test("side by side: run (output, exit codes), ps (table, table TEMPLATE, json, --filter), diff", async () => {
  assert.equal(modernMissing(), undefined, modernMissing());
  await shapeImage();
  try {
    const script = "echo out; echo err >&2; mkdir /e; rm /d/f; echo x > /d/g; exit 3";
    const r = await both(["run", "--name", CONTAINER, SHAPE, "sh", "-c", script]);
    assert.deepEqual([r.ts.code, r.ts.stdout, r.ts.stderr], [3, "out\n", "err\n"]);
    assert.deepEqual([r.docker.code, r.docker.stdout, r.docker.stderr], [3, "out\n", "err\n"]);
    for (const args of [["run", "--rm", SHAPE, "no-such-command"], ["run", "--bogus-flag", SHAPE], ["run", "--rm", SHAPE, "sh", "-c", "exit 42"]]) {
      const c = await both(args);
      assert.equal(c.ts.code, c.docker.code, args.join(" "));
    }
    const diff = await both(["diff", CONTAINER]);
    const sorted = (t: string) => t.trim().split("\n").sort();
    assert.deepEqual(sorted(diff.ts.stdout), sorted(diff.docker.stdout));
    assert.deepEqual(sorted(diff.ts.stdout), ["A /d/g", "A /e", "C /d", "D /d/f"].sort());
    const ps = await both(["ps", "-a"]);
    assert.deepEqual(header(ps.ts.stdout), header(ps.docker.stdout));
    const mine = (t: string) => t.split("\n").find((l) => l.includes(CONTAINER)) ?? "";
    const row = await both(["ps", "-a", "--format", "table {{.Names}}\\t{{.Command}}\\t{{.State}}\\t{{.Labels}}"]);
    assert.equal(row.ts.stdout.split("\n")[0], row.docker.stdout.split("\n")[0]);
    assert.equal(mine(row.ts.stdout).trim().split(/ {2,}/).join("|"), mine(row.docker.stdout).trim().split(/ {2,}/).join("|"));
    const json = await both(["ps", "-a", "--format", "json"]);
    const ofMine = (t: string) => jsonKeys(t.split("\n").filter((l) => l.includes(CONTAINER)).join("\n"));
    assert.deepEqual(ofMine(json.ts.stdout), ofMine(json.docker.stdout));
    assert.match(mine((await both(["ps", "-a"])).ts.stdout), /Exited \(3\)/);
    for (const filters of [[`name=^${CONTAINER}$`], [`name=^/${CONTAINER}`, "exited=3"], ["status=exited", `name=${CONTAINER}`], [`label=tsbuild-interop=${PREFIX}`, `ancestor=${SHAPE}`]]) {
      const f = await both(["ps", ...(filters[0] === "status=exited" ? [] : ["-a"]), "--format", "{{.Names}} {{.State}} {{.Image}}", ...filters.flatMap((x) => ["--filter", x])]);
      assert.equal(f.ts.stdout, f.docker.stdout, filters.join(" "));
      assert.equal(f.ts.stdout, `${CONTAINER} exited ${SHAPE}\n`);
    }
    const badFilter = await both(["ps", "--filter", "bogus=1"]);
    assert.equal(badFilter.ts.code, badFilter.docker.code);
  } finally {
    await ran(MODERN ?? "docker", ["rm", "-f", CONTAINER], DOCKER_ENV);
    await ran(process.execPath, [TSBUILD, "--root", root, "rm", "-f", CONTAINER]);
  }
});

test("side by side: save to stdout and load from stdin across the two; system df json; image prune --filter label/until", async () => {
  assert.equal(modernMissing(), undefined, modernMissing());
  await shapeImage();
  const other = await mkdtemp(join(tmpdir(), "tsbuild-interop-docker-store-"));
  try {
    const viaPipe = await ran("sh", ["-c", `${MODERN} save ${SHAPE} | ${process.execPath} ${TSBUILD} --root ${other} load`], DOCKER_ENV);
    assert.equal(viaPipe.code, 0, viaPipe.stderr);
    const back = await ran("sh", ["-c", `${process.execPath} ${TSBUILD} --root ${root} save -o - ${SHAPE} | ${MODERN} load`], DOCKER_ENV);
    assert.equal(back.code, 0, back.stderr);
    assert.equal(viaPipe.stdout, `Loaded image: ${SHAPE}\n`);
    assert.equal(back.stdout, viaPipe.stdout, "both print Docker's load line");
  } finally {
    await removeStore(other);
  }
  const df = await both(["system", "df", "--format", "json"]);
  assert.deepEqual(jsonKeys(df.ts.stdout), jsonKeys(df.docker.stdout));
  assert.deepEqual(header((await both(["system", "df"])).ts.stdout), header((await both(["system", "df"])).docker.stdout));
  // only the image labelled for this run can match: nothing else in the daemon is touched
  const label = `label=tsbuild-interop-prune=${PREFIX}`;
  const young = await both(["image", "prune", "-a", "-f", "--filter", label, "--filter", "until=1h"]);
  assert.equal(young.ts.stdout, young.docker.stdout);
  assert.equal(young.ts.stdout, "Total reclaimed space: 0B\n");
  const pruned = await both(["image", "prune", "-a", "-f", "--filter", label]);
  const kinds = (t: string) => t.trim().split("\n").map((l) => l.replace(/:.*/, ""));
  assert.deepEqual(kinds(pruned.ts.stdout), kinds(pruned.docker.stdout));
  assert.match(pruned.ts.stdout, new RegExp(`^Deleted Images:\\nuntagged: ${PRUNED}\\ndeleted: sha256:[0-9a-f]{64}\\n`));
  assert.equal(pruned.ts.stdout.replace(/\n\nTotal.*\n$/, ""), pruned.docker.stdout.replace(/\n\nTotal.*\n$/, ""));
});
