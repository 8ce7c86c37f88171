// What a new user sees when a build cannot work: through bin/tsbuild, each failure exits non-zero with
// ONE `error: ` line on stderr naming the place (Dockerfile:line, the path or the reference), no stack
// trace, and leaves the store as it was. Also: two builds on one store at once, and a build killed
// mid-RUN whose mount the next start removes.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  collect, freshStore, isLayerTar, mountsUnder, removeStore, startTsbuild, storeGrowth, storeListing, tsbuild,
  tsbuildOk, type StoreListing,
} from "./helpers.js";

let root = "";
let work = "";
let ctx: string;

before(async () => {
  root = await freshStore();
  work = await mkdtemp(join(tmpdir(), "tsbuild-test-fail-"));
  ctx = join(work, "ctx");
  await mkdir(ctx);
  await writeFile(join(ctx, "present.txt"), "here\n");
});

after(async () => {
  // before() may have failed half-way: clean up what it made
  if (work !== "") await rm(work, { recursive: true, force: true });
  if (root !== "") await removeStore(root);
});

async function dockerfile(name: string, text: string): Promise<string> {
  const file = join(work, name);
  await writeFile(file, text);
  return file;
}

/**
 * The store as it was: index.json identical, no blob gone or changed. When filesystem steps completed
 * before the failure (`stepsBefore`), their layers may stay as cache (BuildKit keeps them too): new blobs
 * are then allowed, but only layer tars; with no completed step, nothing new at all.
 */
function assertStoreKept(before: StoreListing, stepsBefore: boolean): void {
  const added = storeGrowth(before, storeListing(root));
  if (!stepsBefore) assert.deepEqual(added, [], "a build that did nothing left blobs behind");
  for (const name of added) assert.ok(isLayerTar(root, name), `new blob ${name} is not a cached layer`);
}

/**
 * Runs `tsbuild --root STORE build -q ARGS` and checks the house rules for a failure; returns the error
 * line. Other stderr lines may only be the failing command's output tail (`  | …`).
 */
async function expectFailure(args: string[], mustName: (string | RegExp)[], stepsBefore = false): Promise<string> {
  const before = storeListing(root);
  const r = await tsbuild(["--root", root, "build", "-q", ...args]);
  assert.notEqual(r.code, 0, "exit code must be non-zero");
  assert.ok(!/^ {4}at /m.test(r.stderr + r.stdout), `stack trace printed:\n${r.stderr}`);
  const lines = r.stderr.split("\n").filter((l) => l.trim() !== "");
  const errors = lines.filter((l) => l.startsWith("error: "));
  assert.equal(errors.length, 1, `exactly one "error: " line expected, stderr was:\n${r.stderr}`);
  const others = lines.filter((l) => !l.startsWith("error: ") && !l.startsWith("  | "));
  assert.deepEqual(others, [], `stderr holds more than the error line:\n${r.stderr.slice(0, 1500)}`);
  const line = errors[0]!;
  for (const name of mustName) {
    if (typeof name === "string") assert.ok(line.includes(name), `${JSON.stringify(line)} should name ${name}`);
    else assert.match(line, name);
  }
  assertStoreKept(before, stepsBefore);
  return line;
}

describe("failures a user can cause", () => {
  it("missing context folder names the path", async () => {
    const missing = join(work, "no-such-context");
    await expectFailure(["-t", "f:1", missing], [missing]);
  });

  it("missing Dockerfile (-f nope) names the file", async () => {
    await expectFailure(["-t", "f:1", "-f", "nope", ctx], ["nope"]);
  });

  it("unknown instruction names Dockerfile:line and the word", async () => {
    const df = await dockerfile("unknown-instr.Dockerfile", "FROM busybox:local\nRUN true\nFROBNICATE x\n");
    await expectFailure(["-t", "f:1", "-f", df, ctx], ["unknown-instr.Dockerfile:3", /FROBNICATE/i]);
  });

  it("unknown command-line flag names the flag (no help dump)", async () => {
    await expectFailure(["--frobnicate", "-t", "f:1", ctx], ["--frobnicate"]);
  });

  it("missing COPY source names Dockerfile:line and the file", async () => {
    const df = await dockerfile("missing-src.Dockerfile", "FROM busybox:local\nCOPY present.txt /p\nCOPY missing.txt /x\n");
    await expectFailure(["-t", "f:1", "-f", df, ctx], ["missing-src.Dockerfile:3", "missing.txt"], true);
  });

  it("unknown --from stage names Dockerfile:line and the stage", async () => {
    const df = await dockerfile("from.Dockerfile", "FROM busybox:local AS one\nFROM busybox:local\nCOPY --from=nosuchstage /a /b\n");
    await expectFailure(["-t", "f:1", "-f", df, ctx], ["from.Dockerfile:3", "nosuchstage"]);
  });

  it("unknown --target names the target", async () => {
    const df = await dockerfile("target.Dockerfile", "FROM busybox:local AS one\nRUN true\n");
    await expectFailure(["-t", "f:1", "--target", "nosuchtarget", "-f", df, ctx], ["nosuchtarget"]);
  });

  it("invalid STOPSIGNAL is refused like BuildKit's, naming Dockerfile:line", async () => {
    const df = await dockerfile("stopsignal.Dockerfile", "FROM busybox:local\nARG SIG=SIGFOO\nSTOPSIGNAL $SIG\n");
    await expectFailure(["-t", "f:1", "-f", df, ctx], ["stopsignal.Dockerfile:3", /invalid signal: SIGFOO$/]);
  });

  it("unknown base image names Dockerfile:line and the reference", async () => {
    const df = await dockerfile("base.Dockerfile", "FROM nosuchimage:1.2\nRUN true\n");
    await expectFailure(["-t", "f:1", "-f", df, ctx], ["base.Dockerfile:1", "nosuchimage:1.2"]);
  });

  it("invalid -t reference names the reference", async () => {
    const df = await dockerfile("ok.Dockerfile", "FROM busybox:local\n");
    await expectFailure(["-t", "Bad:Name:!", "-f", df, ctx], ["Bad:Name:!"]);
  });

  it("failing RUN names Dockerfile:line, the command, the exit code and the last output", async () => {
    const df = await dockerfile("run.Dockerfile",
      "FROM busybox:local\nRUN echo before\nRUN echo first output; echo the last words >&2; exit 3\n");
    const r0 = storeListing(root);
    const r = await tsbuild(["--root", root, "build", "-q", "-t", "f:1", "-f", df, ctx]);
    assertStoreKept(r0, true);
    assert.notEqual(r.code, 0);
    const errors = r.stderr.split("\n").filter((l) => l.startsWith("error: "));
    assert.equal(errors.length, 1, r.stderr);
    assert.match(errors[0]!, /run\.Dockerfile:3/);
    assert.match(errors[0]!, /echo first output; echo the last words >&2; exit 3/);
    assert.match(errors[0]!, /exit code:? 3/);
    assert.match(r.stderr, /the last words/, "the last output lines are shown");
    assert.ok(!/^ {4}at /m.test(r.stderr));
  });

  it("exec form with invalid JSON falls back to shell form and builds", async () => {
    const df = await dockerfile("json.Dockerfile",
      "FROM busybox:local\nRUN [ \"a\" = 'a' ] && echo fallback > /f\nCMD [\"a\", 'b']\n");
    const r = await tsbuild(["--root", root, "build", "-q", "-t", "json-fallback:1", "-f", df, ctx]);
    assert.equal(r.code, 0, r.stderr);
    const inspect = await tsbuildOk(["--root", root, "inspect", "-f", "{{json .Config.Cmd}}", "json-fallback:1"]);
    assert.match(inspect.stdout, /\/bin\/sh.*-c.*\[\\?"a\\?", 'b'\]/);
  });
});

describe("a shared store", () => {
  it("two builds on one store at once both succeed", { timeout: 120_000 }, async () => {
    const store = await freshStore();
    try {
      const a = await dockerfile("par-a.Dockerfile", "FROM busybox:local\nRUN echo shared > /s\nRUN sleep 1; echo a > /a\n");
      const b = await dockerfile("par-b.Dockerfile", "FROM busybox:local\nRUN echo shared > /s\nRUN sleep 1; echo b > /b\n");
      const [ra, rb] = await Promise.all([
        tsbuild(["--root", store, "build", "-q", "-t", "par:a", "-f", a, ctx]),
        tsbuild(["--root", store, "build", "-q", "-t", "par:b", "-f", b, ctx]),
      ]);
      assert.equal(ra.code, 0, ra.stderr);
      assert.equal(rb.code, 0, rb.stderr);
      const images = await tsbuildOk(["--root", store, "images"]);
      assert.match(images.stdout, /par\s+a/);
      assert.match(images.stdout, /par\s+b/);
      assert.deepEqual(mountsUnder(store), []);
    } finally {
      await removeStore(store);
    }
  });

  it("a build killed mid-RUN leaves a mount that the next start removes", { timeout: 120_000 }, async () => {
    const store = await freshStore();
    try {
      const slow = await dockerfile("slow.Dockerfile", "FROM busybox:local\nRUN echo started; sleep 60\n");
      const child = startTsbuild(["--root", store, "build", "--progress", "plain", "-t", "slow:1", "-f", slow, ctx]);
      const done = collect(child);
      const deadline = Date.now() + 30_000;
      let output = "";
      child.stderr?.on("data", (s: string) => { output += s; });
      while (!(mountsUnder(store).length > 0 && /started/.test(output)) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(mountsUnder(store).length > 0, "the RUN step mounted its rootfs under the store");
      child.kill("SIGKILL");
      const killed = await done;
      assert.equal(killed.signal, "SIGKILL");
      assert.ok(mountsUnder(store).length > 0, "SIGKILL leaves the mount behind (nothing could unmount it)");
      const fast = await dockerfile("fast.Dockerfile", "FROM busybox:local\nRUN echo after > /after\n");
      const next = await tsbuild(["--root", store, "build", "-q", "-t", "after:1", "-f", fast, ctx]);
      assert.equal(next.code, 0, next.stderr);
      assert.deepEqual(mountsUnder(store), [], "the next tsbuild start removed the leftover mount");
    } finally {
      await removeStore(store);
    }
  });
});
