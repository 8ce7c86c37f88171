// RUN --mount beyond what the recorded BuildKit case (testdata/cases/run-mounts) covers: secrets (seen by
// the command, never in the layer or the key), cache mounts that outlive a build, the errors a user can
// cause, and nothing left mounted or in the store's scratch folder afterwards.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { freshStore, mountsUnder, removeStore, tsbuild, tsbuildOk } from "./helpers.js";

let root = "";
let work = "";
let ctx = "";

before(async () => {
  root = await freshStore();
  work = await mkdtemp(join(tmpdir(), "tsbuild-test-mounts-"));
  ctx = join(work, "ctx");
  await mkdir(ctx);
  await writeFile(join(ctx, "a.txt"), "a\n");
});

after(async () => {
  if (work !== "") await rm(work, { recursive: true, force: true });
  if (root !== "") await removeStore(root);
});

async function dockerfile(name: string, text: string): Promise<string> {
  const file = join(work, name);
  await writeFile(file, text);
  return file;
}

interface Report { steps: { instruction: string; cached: boolean; reason?: string }[] }

async function build(df: string, tag: string, extra: string[] = []): Promise<Report> {
  const report = join(work, `${tag.replace(/\W/g, "_")}.json`);
  await tsbuildOk(["--root", root, "build", "--progress", "plain", "--report", report, "-t", tag, "-f", df, ...extra, ctx]);
  return JSON.parse(await readFile(report, "utf8")) as Report;
}

async function catInImage(image: string, path: string): Promise<string> {
  return (await tsbuildOk(["--root", root, "run", "--rm", image, "cat", path])).stdout;
}

async function assertNothingLeft(): Promise<void> {
  assert.deepEqual(mountsUnder(root), [], "mounts left under the store");
  const scratch = (await readdir(join(root, "tmp"))).filter((n) => n.startsWith("mounts-"));
  assert.deepEqual(scratch, [], "mount scratch folders left in the store");
}

describe("RUN --mount", () => {
  it("a secret is seen by the command, stays out of the layer, and changing it does not miss", async () => {
    const df = await dockerfile("secret.Dockerfile",
      "FROM busybox:local\nRUN --mount=type=secret,id=token,mode=0440 wc -c < /run/secrets/token > /len; ls -ln /run/secrets | awk 'NR>1{print $1}' > /perm\n");
    const secretFile = join(work, "token.txt");
    await writeFile(secretFile, "s3cr3t-value");
    const r1 = await build(df, "secret:1", ["--secret", `id=token,src=${secretFile}`]);
    assert.equal(r1.steps.find((s) => s.instruction.startsWith("RUN"))?.cached, false);
    assert.equal((await catInImage("secret:1", "/len")).trim(), "12");
    assert.equal((await catInImage("secret:1", "/perm")).trim(), "-r--r-----");
    // /run/secrets was a mountpoint stub: it must not be in the image
    const top = await tsbuildOk(["--root", root, "run", "--rm", "secret:1", "ls", "-a", "/"]);
    assert.ok(!top.stdout.split("\n").includes("run"), `stub /run left in the image: ${top.stdout}`);
    const save = join(work, "secret.tar");
    await tsbuildOk(["--root", root, "save", "secret:1", "-o", save]);
      assert.ok(!(await readFile(save)).includes("s3cr3t-value"), "the secret's value is in the saved image");
    await writeFile(secretFile, "other-value-of-other-length");
    const r2 = await build(df, "secret:2", ["--secret", `id=token,src=${secretFile}`]);
    assert.equal(r2.steps.find((s) => s.instruction.startsWith("RUN"))?.cached, true, "a secret's value is not part of the key");
    process.env.TSBUILD_TEST_SECRET = "from-env";
    try {
      await build(df, "secret:3", ["--no-cache", "--secret", "id=token,env=TSBUILD_TEST_SECRET"]);
    } finally {
      delete process.env.TSBUILD_TEST_SECRET;
    }
    assert.equal((await catInImage("secret:3", "/len")).trim(), "8");
    await assertNothingLeft();
  });

  it("a cache mount keeps its files from one build to the next and out of the layers; --no-cache starts it empty", async () => {
    // uid/gid/mode give a mount its own folder (testdata/cases/cache-mount-ids records BuildKit's);
    // --no-cache empties those too, as BuildKit does since moby/buildkit#5305 (0.13 kept them).
    const df = await dockerfile("cache.Dockerfile", [
      "FROM busybox:local", "ARG R",
      "RUN --mount=type=cache,target=/cache echo run >> /cache/runs; wc -l < /cache/runs > /count",
      "RUN --mount=type=cache,target=/cache,uid=10 echo run >> /cache/runs; wc -l < /cache/runs > /count10", "",
    ].join("\n"));
    const counts = async (tag: string): Promise<string> =>
      `${(await catInImage(tag, "/count")).trim()} ${(await catInImage(tag, "/count10")).trim()}`;
    await build(df, "cachemount:1", ["--build-arg", "R=1"]);
    assert.equal(await counts("cachemount:1"), "1 1");
    await build(df, "cachemount:2", ["--build-arg", "R=2"]);
    assert.equal(await counts("cachemount:2"), "2 2");
    await build(df, "cachemount:3", ["--build-arg", "R=3", "--no-cache"]);
    assert.equal(await counts("cachemount:3"), "1 1", "--no-cache starts every cache mount empty");
    await build(df, "cachemount:4", ["--build-arg", "R=4"]);
    assert.equal(await counts("cachemount:4"), "2 2", "the next build goes on from the emptied folders");
    const ls = await tsbuildOk(["--root", root, "run", "--rm", "cachemount:2", "ls", "/"]);
    assert.ok(!ls.stdout.split("\n").includes("cache"), "the cache mountpoint is in the image");
    const left = (await readdir(join(root, "cache", "mounts"))).filter((n) => n.includes("."));
    assert.deepEqual(left, [], "emptied or new cache folders left beside the cache mounts");
    await assertNothingLeft();
  });

  for (const [name, text, words] of [
    ["a required secret that was not given", "RUN --mount=type=secret,id=npmrc,required cat /run/secrets/npmrc", ["npmrc", "--secret"]],
    ["an ssh mount", "RUN --mount=type=ssh ssh-add -l", ["ssh"]],
    ["an unknown mount key", "RUN --mount=type=bind,target=/x,colour=blue true", ["colour"]],
    ["an unknown mount type", "RUN --mount=type=nfs,target=/x true", ["nfs"]],
    ["a bind source missing from the context", "RUN --mount=source=nothere,target=/x true", ["nothere"]],
  ] as const) {
    it(`${name} fails with the Dockerfile line`, async () => {
      const df = await dockerfile("bad.Dockerfile", `FROM busybox:local\n${text}\n`);
      const r = await tsbuild(["--root", root, "build", "-q", "-t", "bad:1", "-f", df, ctx]);
      assert.notEqual(r.code, 0);
      const errors = r.stderr.split("\n").filter((l) => l.startsWith("error: "));
      assert.equal(errors.length, 1, r.stderr);
      assert.match(errors[0]!, /bad\.Dockerfile:2/);
      for (const w of words) assert.ok(errors[0]!.includes(w), `${errors[0]} should name ${w}`);
      assert.ok(!/^ {4}at /m.test(r.stderr), r.stderr);
      await assertNothingLeft();
    });
  }
});
