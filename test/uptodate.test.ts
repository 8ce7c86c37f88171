// The up-to-date memo (cli/uptodate/): a build run again that would change nothing is answered from the
// memo its last run wrote, with that run's output; any change to what the build relied on (a context
// file, the Dockerfile, an ignore file, the command line, the environment, the store's tags, a cache
// entry, leftovers to sweep) runs it in full. A replay is told by the store's index.json: a build always
// rewrites it (a new inode), a replay only reads it.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { collect, freshStore, removeStore, TSBUILD, type RunResult } from "./helpers.js";

let root: string;
let ctx: string;

function run(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<RunResult> {
  const child = spawn(process.execPath, [TSBUILD, "--root", root, ...args], { cwd: ctx, env, stdio: ["ignore", "pipe", "pipe"] });
  return collect(child);
}

const BUILD = ["build", "--progress", "plain", "--network", "none", "-t", "up:1", "."];

/** Runs the build; whether it was replayed (index.json kept its inode) and what it printed. */
async function build(args = BUILD, env?: NodeJS.ProcessEnv): Promise<{ replayed: boolean; out: RunResult }> {
  const ino = statSync(join(root, "index.json")).ino;
  const out = await run(args, env);
  assert.equal(out.code, 0, out.stderr);
  return { replayed: statSync(join(root, "index.json")).ino === ino, out };
}

/**
 * After a change: the next build runs in full (and returns what it printed); one that rebuilt steps or
 * moved its tag records nothing, so the build after it runs in full too and records; from then on it
 * is replayed, printing what the last full build printed.
 */
async function runsThenReplays(what: string): Promise<RunResult> {
  const first = await build();
  assert.equal(first.replayed, false, `${what}: the build after it ran in full`);
  let last = first;
  await settle();
  let next = await build();
  if (!next.replayed) {
    last = next;
    await settle();
    next = await build();
  }
  assert.equal(next.replayed, true, `${what}: the build after that was replayed`);
  assert.equal(next.out.stderr, last.out.stderr);
  assert.equal(next.out.stdout, last.out.stdout);
  return first.out;
}

/** Past the memo's racy margin: a file written within 50 ms of a build is not trusted by its stat. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 60));

describe("up-to-date memo", () => {
  before(async () => {
    root = await freshStore();
    ctx = await mkdtemp(join(tmpdir(), "tsbuild-test-uptodate-"));
    mkdirSync(join(ctx, "src"));
    writeFileSync(join(ctx, "src", "a.txt"), "a\n");
    writeFileSync(join(ctx, "Dockerfile"), "FROM busybox:local\nWORKDIR /app\nCOPY . /app\nRUN cat /app/src/*.txt > /app/all\n");
    await settle();
    const cold = await build();
    assert.equal(cold.replayed, false);
    await settle();
  });
  after(async () => {
    await rm(ctx, { recursive: true, force: true });
    await removeStore(root);
  });

  it("a rebuild that changes nothing is replayed with the same output", { timeout: 60_000 }, async () => {
    const out = await runsThenReplays("the cold build");
    assert.match(out.stderr, /cache: 3\/3 steps cached/);
    const third = await build();
    assert.equal(third.replayed, true);
    // standard error on /dev/null is no terminal: replayed too
    const ino = statSync(join(root, "index.json")).ino;
    const devnull = openSync("/dev/null", "w");
    try {
      const quiet = await collect(spawn(process.execPath, [TSBUILD, "--root", root, ...BUILD], { cwd: ctx, stdio: ["ignore", "pipe", devnull] }));
      assert.equal(quiet.code, 0);
    } finally {
      closeSync(devnull);
    }
    assert.equal(statSync(join(root, "index.json")).ino, ino);
  });

  it("a context file edited (same size), added, or removed runs the build", { timeout: 60_000 }, async () => {
    writeFileSync(join(ctx, "src", "a.txt"), "b\n");
    const edited = await runsThenReplays("an edit");
    assert.match(edited.stderr, /rebuilt: src\/a\.txt changed/);
    writeFileSync(join(ctx, "src", "b.txt"), "new\n");
    await runsThenReplays("a new file");
    rmSync(join(ctx, "src", "b.txt"));
    await runsThenReplays("a removed file");
  });

  it("the Dockerfile, an ignore file, the command line or the environment changed runs the build", { timeout: 60_000 }, async () => {
    writeFileSync(join(ctx, "Dockerfile"), "FROM busybox:local\nWORKDIR /app\nCOPY . /app\nRUN cat /app/src/*.txt > /app/all\nENV X=1\n");
    await runsThenReplays("a Dockerfile edit");
    writeFileSync(join(ctx, ".dockerignore"), "src/b.txt\n");
    await runsThenReplays("a new .dockerignore");
    const withArg = [...BUILD.slice(0, -1), "--build-arg", "A=1", "."];
    const first = await build(withArg);
    assert.equal(first.replayed, false, "another command line has no memo yet");
    const env = { ...process.env, TSBUILD_UPTODATE_TEST: "1" };
    assert.equal((await build(BUILD, env)).replayed, false, "another environment has no memo yet");
    await settle();
    assert.equal((await build(BUILD, env)).replayed, true);
    // a shell's bookkeeping (another folder left, a nested shell) is not part of what a build depends on
    assert.equal((await build(BUILD, { ...env, OLDPWD: "/elsewhere", SHLVL: "7", _: "/usr/bin/env" })).replayed, true);
    // unless the build takes one as a build argument's value
    const fromEnv = [...BUILD.slice(0, -1), "--build-arg", "SHLVL", "."];
    assert.equal((await build(fromEnv, { ...env, SHLVL: "1" })).replayed, false);
    await settle();
    assert.equal((await build(fromEnv, { ...env, SHLVL: "1" })).replayed, true);
    assert.equal((await build(fromEnv, { ...env, SHLVL: "2" })).replayed, false, "SHLVL is a build argument's value here");
    assert.equal((await build(BUILD, { ...env, TSBUILD_TRACE: "1" })).replayed, false, "a trace asks for the build itself");
  });

  it("the store changed (a tag, a cache entry, leftovers to sweep) runs the build", { timeout: 60_000 }, async () => {
    await build();
    await settle();
    assert.equal((await build()).replayed, true);
    const tag = await run(["tag", "busybox:local", "other:1"]);
    assert.equal(tag.code, 0, tag.stderr);
    await runsThenReplays("another tag");

    const keys = join(root, "cache", "keys");
    for (const name of readdirSync(keys)) rmSync(join(keys, name));
    const rebuilt = await runsThenReplays("the cache entries removed");
    assert.match(rebuilt.stderr, /cache: 0\/3 steps cached/);

    mkdirSync(join(root, "tmp", "left-behind"));
    const swept = await build();
    assert.equal(swept.replayed, false, "something in the scratch folder: the build runs (and sweeps)");
    rmSync(join(root, "tmp", "left-behind"), { recursive: true, force: true });
  });

  it("a context of hundreds of files (checked on the thread pool): one edited file runs the build", { timeout: 60_000 }, async () => {
    mkdirSync(join(ctx, "many"));
    for (let i = 0; i < 300; i++) writeFileSync(join(ctx, "many", `f${i}.txt`), `file ${i}\n`);
    await settle();
    await runsThenReplays("300 new files");
    writeFileSync(join(ctx, "many", "f150.txt"), "file X\n".padEnd("file 150\n".length, " "));
    const edited = await runsThenReplays("one of them edited");
    assert.match(edited.stderr, /rebuilt: many\/f150\.txt changed/);
  });

  it("a context and a Dockerfile given through links: what they lead to is checked", { timeout: 60_000 }, async () => {
    const real = join(ctx, "..", `real-${process.pid}`);
    const link = join(ctx, "..", `link-${process.pid}`);
    const dockerfile = join(ctx, "..", `Dockerfile-${process.pid}`);
    try {
      mkdirSync(real);
      writeFileSync(join(real, "a.txt"), "a\n");
      writeFileSync(dockerfile, "FROM busybox:local\nCOPY . /ctx\n");
      symlinkSync(real, link);
      symlinkSync(dockerfile, join(real, "Dockerfile"));
      const args = ["build", "--progress", "plain", "--network", "none", "-t", "up:link", link];
      const settled = async (): Promise<boolean> => {
        await build(args);
        await settle();
        await build(args);
        await settle();
        return (await build(args)).replayed;
      };
      assert.equal(await settled(), true);
      writeFileSync(join(real, "b.txt"), "new at the top\n");
      assert.equal((await build(args)).replayed, false, "a file added to the folder the link leads to");
      assert.equal(await settled(), true);
      // the link made to lead to another folder (same files): the build runs on that one
      const other = `${real}-other`;
      mkdirSync(other);
      try {
        writeFileSync(join(other, "a.txt"), "a\n");
        writeFileSync(join(other, "b.txt"), "new at the top\n");
        symlinkSync(dockerfile, join(other, "Dockerfile"));
        await settle();
        rmSync(link);
        symlinkSync(other, link);
        assert.equal((await build(args)).replayed, false, "the context link retargeted");
      } finally {
        rmSync(link, { force: true });
        symlinkSync(real, link);
        rmSync(other, { recursive: true, force: true });
      }
      writeFileSync(dockerfile, "FROM busybox:local\nCOPY . /ctx2\n");
      const edited = await build(args);
      assert.equal(edited.replayed, false, "the file the Dockerfile link leads to edited");
      assert.match(edited.out.stderr, /COPY \. \/ctx2/);
    } finally {
      rmSync(link, { force: true });
      rmSync(real, { recursive: true, force: true });
      rmSync(dockerfile, { force: true });
    }
  });

  it("a file edited while the build runs leaves no memo (the build read it before the edit)", { timeout: 60_000 }, async () => {
    const pause = join(ctx, "..", `pause-${process.pid}`);
    const env = { ...process.env, TSBUILD_TEST_PAUSE: `bases-pinned:${pause}` };
    const dockerfile = join(ctx, "Dockerfile");
    const before = "FROM busybox:local\nWORKDIR /app\nCOPY . /app\nRUN cat /app/src/*.txt > /app/all\n";
    try {
      writeFileSync(`${pause}.go`, "");
      writeFileSync(dockerfile, before);
      // the Dockerfile ignored too: editing it then changes no COPY, only what the build read at its start
      writeFileSync(join(ctx, ".dockerignore"), "ignored.txt\nDockerfile\n");
      await settle();
      await build(BUILD, env);
      await settle();
      await build(BUILD, env);
      await settle();
      assert.equal((await build(BUILD, env)).replayed, true);
      // a file the build does not see: the memo no longer holds, the build is a no-op that would record one
      writeFileSync(join(ctx, "ignored.txt"), "x\n");
      await settle();
      rmSync(`${pause}.go`);
      rmSync(`${pause}.reached`, { force: true }); // written by every build above (they went on at once)
      const raced = run(BUILD, env);
      while (!existsSync(`${pause}.reached`)) await new Promise((r) => setTimeout(r, 10));
      writeFileSync(dockerfile, `${before}ENV EDITED=1\n`); // after the build read it
      await new Promise((r) => setTimeout(r, 100));
      writeFileSync(`${pause}.go`, "");
      const first = await raced;
      assert.equal(first.code, 0, first.stderr);
      await settle();
      const next = await build(BUILD, env);
      assert.equal(next.replayed, false, "the edit made during the last build is not covered by a memo");
      const image = (out: string): string | undefined => /writing image (sha256:[0-9a-f]{64})/.exec(out)?.[1];
      assert.notEqual(image(next.out.stderr), image(first.stderr), "the edited Dockerfile (its ENV) makes another image");
    } finally {
      for (const f of [`${pause}.go`, `${pause}.reached`, join(ctx, "ignored.txt")]) rmSync(f, { force: true });
    }
  });

  it("a step's last-build record changed by another build runs the build, which writes it back", { timeout: 60_000 }, async () => {
    const dir = join(ctx, "..", `steps-${process.pid}`);
    try {
      mkdirSync(dir);
      writeFileSync(join(dir, "a.txt"), "a\n");
      writeFileSync(join(dir, "f1"), "1\n");
      writeFileSync(join(dir, "Dockerfile"), "FROM busybox:local\nARG V\nCOPY a.txt /a-$V\nCOPY f$V /f\n");
      await settle();
      const args = (v: string): string[] => ["build", "--progress", "plain", "--network", "none", "--build-arg", `V=${v}`, "-t", "up:steps", dir];
      await build(args("1"));
      await settle();
      await build(args("1"));
      await settle();
      assert.equal((await build(args("1"))).replayed, true);
      // V=2 rebuilds the first COPY (its record now V=2's) and fails at the second: no tag moves
      const failed = await run(args("2"));
      assert.notEqual(failed.code, 0);
      assert.equal((await build(args("1"))).replayed, false, "the first COPY's record is another build's now");
      await settle();
      writeFileSync(join(dir, "a.txt"), "b\n");
      await settle();
      const edited = await build(args("1"));
      assert.match(edited.out.stderr, /rebuilt: a\.txt changed/, "the reason is against V=1's record, written back");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a base named by digest (not in index.json) whose blobs go runs the build", { timeout: 60_000 }, async () => {
    const store = await freshStore();
    const dir = join(ctx, "..", `bydigest-${process.pid}`);
    try {
      const manifest = JSON.parse(readFileSync(join(store, "index.json"), "utf8")).manifests[0].digest as string;
      mkdirSync(dir);
      writeFileSync(join(dir, "Dockerfile"), `FROM busybox@${manifest}\nCOPY Dockerfile /\n`);
      await settle();
      const go = (): Promise<RunResult> => collect(spawn(process.execPath, [TSBUILD, "--root", store, "build", "--progress", "plain", "--network", "none", "-t", "bd:1", dir], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] }));
      for (let i = 0; i < 2; i++) {
        assert.equal((await go()).code, 0);
        await settle();
      }
      const ino = statSync(join(store, "index.json")).ino;
      assert.equal((await go()).code, 0);
      assert.equal(statSync(join(store, "index.json")).ino, ino, "replayed while the base is there");
      // a prune of unlisted blobs leaves index.json as it was; here the base's manifest is removed by hand
      rmSync(join(store, "blobs", "sha256", manifest.slice("sha256:".length)));
      const after = await go();
      assert.notEqual(after.code, 0, "the base is gone: the build fails as a build would, it is not replayed");
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await removeStore(store);
    }
  });

  it("a build that writes more than the store (--iidfile) or prints to a JSON stream is never replayed", { timeout: 60_000 }, async () => {
    const iid = join(ctx, "..", `iid-${process.pid}`);
    try {
      for (let i = 0; i < 2; i++) {
        rmSync(iid, { force: true });
        const r = await build([...BUILD.slice(0, -1), "--iidfile", iid, "."]);
        assert.equal(r.replayed, false);
        assert.ok(existsSync(iid), "the id file is written every time");
        await settle();
      }
      for (let i = 0; i < 2; i++) {
        const r = await build([...BUILD.slice(0, 1), "--progress", "json", ...BUILD.slice(3)]);
        assert.equal(r.replayed, false);
        await settle();
      }
    } finally {
      rmSync(iid, { force: true });
    }
  });
});
