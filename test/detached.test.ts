// run -d and the commands that act on a running container: logs (-f), exec, stop (SIGTERM, then
// SIGKILL after -t), kill -s, start; the supervisor keeps the output and the exit code after the CLI returns.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { freshStore, removeStore, tsbuild, tsbuildOk } from "./helpers.js";

let root: string;
before(async () => {
  root = await freshStore();
});
after(async () => {
  await tsbuild(["--root", root, "rm", "-f", "bg", "trapper"]);
  await removeStore(root);
});

const ts = async (...args: string[]): Promise<string> => (await tsbuildOk(["--root", root, ...args])).stdout;

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test("run -d returns the id at once; logs, exec and ps see the running container; stop kills a process that ignores TERM", async () => {
  const started = Date.now();
  const id = (await ts("run", "-d", "--name", "bg", "busybox:local", "sh", "-c", "echo out; echo err >&2; sleep 60")).trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  assert.ok(Date.now() - started < 20_000, "run -d returned before the process ended");
  await until("the output", async () => (await ts("logs", "bg")) === "out\n");
  const logs = await tsbuild(["--root", root, "logs", "bg"]);
  assert.equal(logs.stderr, "err\n");
  assert.match(await ts("ps", "--format", "{{.Names}} {{.State}}"), /^bg running$/m);
  // busybox sh execs its last command: PID 1 is the sleep
  assert.equal(await ts("exec", "bg", "sh", "-c", "echo inside; cat /proc/1/cmdline | tr '\\0' ' '"), "inside\nsleep 60 ");
  // a PID 1 without a handler ignores SIGTERM: stop waits -t seconds, then kills (exit 137, as Docker)
  assert.equal(await ts("stop", "-t", "1", "bg"), "bg\n");
  assert.equal(await ts("container", "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "bg"), "exited 137\n");
  const notRunning = await tsbuild(["--root", root, "exec", "bg", "true"]);
  assert.equal(notRunning.code, 1);
  assert.match(notRunning.stderr, /container bg is not running/);
  // start runs it again, in the background, on the same writable layer; its output is appended
  assert.equal(await ts("start", "bg"), "bg\n");
  await until("the second output", async () => (await ts("logs", "bg")) === "out\nout\n");
  assert.match(await ts("ps", "--format", "{{.Names}} {{.State}}"), /^bg running$/m);
  assert.equal(await ts("kill", "bg"), "bg\n");
  await until("the exit", async () => (await ts("container", "inspect", "-f", "{{.State.Status}}", "bg")).trim() === "exited");
});

test("kill -s TERM reaches a process that traps it; its exit code is kept", async () => {
  await ts("run", "-d", "--name", "trapper", "busybox:local", "sh", "-c", "trap 'echo got-term; exit 3' TERM; while true; do sleep 0.1; done");
  await until("the container to run", async () => (await ts("ps", "--format", "{{.Names}}")).includes("trapper"));
  await new Promise((r) => setTimeout(r, 500)); // the trap is set once sh has read it
  assert.equal(await ts("kill", "-s", "SIGTERM", "trapper"), "trapper\n");
  await until("the exit", async () => (await ts("container", "inspect", "-f", "{{.State.Status}}", "trapper")).trim() === "exited");
  assert.equal(await ts("container", "inspect", "-f", "{{.State.ExitCode}}", "trapper"), "3\n");
  assert.equal(await ts("logs", "trapper"), "got-term\n");
});
