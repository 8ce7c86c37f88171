import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { processStart } from "../common/owner.js";
import { isRunning, type ContainerRecord } from "./containers.js";

test("a running container's process is its pid and start time: a reused pid is not it", async () => {
  const other = spawn("sleep", ["30"], { stdio: "ignore" });
  const exited = new Promise<void>((r) => other.on("exit", () => r()));
  try {
    const pid = other.pid as number;
    const rec = { state: "running", pid } as ContainerRecord;
    assert.equal(isRunning({ ...rec, pidStart: processStart(pid) }), true);
    assert.equal(isRunning({ ...rec, pidStart: 1 }), false, "the pid now runs another process");
    assert.equal(isRunning(rec), true, "an older record (pid only) goes by the pid");
    assert.equal(isRunning({ ...rec, state: "exited" }), false);
  } finally {
    other.kill("SIGKILL");
    await exited;
  }
});
