import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { ownerAlive, ownerToken, processStart } from "./owner.js";

test("a zombie (killed, not reaped by its parent) is not alive: what it left is swept", async () => {
  // sh starts `sleep 0` in the background, prints its pid and becomes `sleep 30`, which never reaps it
  const parent = spawn("sh", ["-c", "sleep 0 & echo $!; exec sleep 30"], { stdio: ["ignore", "pipe", "ignore"] });
  const exited = new Promise<void>((r) => parent.on("exit", () => r()));
  try {
    const zombie = await new Promise<number>((r) => parent.stdout.once("data", (c: Buffer) => r(Number(c.toString().trim()))));
    for (let i = 0; i < 500 && processStart(zombie) !== undefined; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(processStart(zombie), undefined);
    assert.equal(ownerAlive({ pid: zombie, start: undefined }), false);
    assert.ok(processStart(parent.pid as number) !== undefined, "its parent runs");
  } finally {
    parent.kill("SIGKILL");
    await exited;
  }
});

test("this process's token is its pid and start time, and alive", () => {
  const [pid, start] = ownerToken().split(".").map(Number);
  assert.equal(pid, process.pid);
  assert.equal(start, processStart(process.pid));
  assert.equal(ownerAlive({ pid: process.pid, start: start as number }), true);
  assert.equal(ownerAlive({ pid: process.pid, start: (start as number) + 1 }), false, "the same pid, another start: another process");
});
