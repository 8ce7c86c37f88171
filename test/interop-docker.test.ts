// Interop with Docker itself: needs the oracle's dockerd (unix:///tmp/anchors/docker.sock, busybox:local
// in it), which `make interop` starts with ../shared/oracle/anchors-up.sh before running this file.
// Not part of `make test` (CI has no dockerd); without the daemon every test here FAILS, never skips.
// Only images named tsbuild-interop-<pid>-* are created in the daemon, and only they are removed.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freshStore, removeStore, tsbuildOk } from "./helpers.js";

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
