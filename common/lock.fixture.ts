// A lock taker for lock.test.ts: at each tick (startAt + i * tickMs) it takes lock file i, which the
// test left to a dead owner, holds it a little and logs `in`/`out` to <lock>.log: several of these
// racing show whether two ever held one lock at once.
import { appendFileSync } from "node:fs";
import { withFileLock } from "./lock.js";

const [dir, startAt, tickMs, count] = process.argv.slice(2).map((a, i) => (i === 0 ? a : Number(a))) as [string, number, number, number];
for (let i = 0; i < count; i++) {
  while (Date.now() < startAt + i * tickMs) await new Promise((r) => setImmediate(r)); // all start at once
  const lock = `${dir}/lock-${i}`;
  await withFileLock(lock, async () => {
    appendFileSync(`${lock}.log`, "in\n");
    await new Promise((r) => setTimeout(r, 10));
    appendFileSync(`${lock}.log`, "out\n");
  });
}
