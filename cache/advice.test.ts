import assert from "node:assert/strict";
import { test } from "node:test";
import { orderAdvice, type AdvisedStep } from "./advice.js";

const step = (line: number, instruction: string, cached: boolean, reason: string | null, ms = 100): AdvisedStep =>
  ({ stage: "stage-0", instruction, line, cached, reason, duration_ms: ms });

test("a broad COPY that missed on one file, with slow RUN steps re-run after it, gets a hint", () => {
  const advice = orderAdvice([
    step(1, "FROM node:20", true, null, 0),
    step(2, "WORKDIR /app", true, null),
    step(3, "COPY . /app", false, "src/index.js changed", 200),
    step(4, "RUN npm ci", false, "parent step rebuilt (step 3)", 41_200),
    step(5, "RUN npm run build", false, "parent step rebuilt (step 4)", 3_100),
    step(6, "CMD [\"node\", \"dist\"]", true, null, 0),
  ]);
  assert.equal(advice.length, 1);
  const [a] = advice;
  assert.equal(a!.line, 3);
  assert.equal(a!.saved_ms, 44_300);
  assert.deepEqual(a!.rerun.map((r) => r.line), [4, 5]);
  assert.match(a!.message, /line 3 `COPY \. \/app` missed \(src\/index\.js changed\), so 2 RUN steps re-ran/);
  assert.match(a!.message, /about 44\.3s less/);
});

test("no hint when the order is already right, nothing slow re-ran, or the miss was not a file change", () => {
  const base = [step(1, "FROM x", true, null, 0)];
  assert.deepEqual(orderAdvice([...base, step(2, "COPY package.json ./", false, "package.json changed"),
    step(3, "RUN npm ci", false, "parent step rebuilt (step 2)", 30_000)]), []);
  assert.deepEqual(orderAdvice([...base, step(2, "COPY . .", false, "a.txt changed"),
    step(3, "RUN true", false, "parent step rebuilt (step 2)", 20)]), []);
  assert.deepEqual(orderAdvice([...base, step(2, "COPY . .", false, "not built before"),
    step(3, "RUN make", false, "parent step rebuilt (step 2)", 9_000)]), []);
  assert.deepEqual(orderAdvice([...base, step(2, "COPY --from=build /out /out", false, "out/a changed"),
    step(3, "RUN make", false, "parent step rebuilt (step 2)", 9_000)]), []);
  assert.deepEqual(orderAdvice([...base, step(2, "COPY . .", false, "--no-cache"),
    step(3, "RUN make", false, "--no-cache", 9_000)]), []);
});
