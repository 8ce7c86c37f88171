// The builder's holds on snapshots others are mounted over, and the removals that wait for them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { HeldRemovals } from "./heldremovals.js";

test("a removal waits for every hold on its snapshot; waitForAll waits for the removals and throws the first failure", async () => {
  const removals = new HeldRemovals();
  const done: number[] = [];
  removals.hold(1);
  removals.hold(1);
  removals.later(1, async () => void done.push(1));
  removals.later(2, async () => void done.push(2)); // not held: at once
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(done, [2]);
  assert.equal(removals.isHeld(1), true);
  removals.release(1);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(done, [2], "still held once");
  removals.release(1);
  assert.equal(removals.isHeld(1), false);
  await removals.waitForAll();
  assert.deepEqual(done, [2, 1]);

  removals.later(3, async () => {
    throw new Error("rm failed");
  });
  await assert.rejects(removals.waitForAll(), /rm failed/);
  await removals.waitForAll(); // reported once
});
