import { test } from "node:test";
import assert from "node:assert/strict";
import { RuntimeFailure, UserError } from "../common/errors.js";
import { reportFailure } from "./failure.js";

/** What reportFailure writes to stderr, and its exit code. */
function reported(e: unknown): { text: string; code: number } {
  const written: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => (written.push(chunk), true)) as typeof process.stderr.write;
  try {
    const code = reportFailure(e);
    return { text: written.join(""), code };
  } finally {
    process.stderr.write = write;
  }
}

test("every error is one line: a tool's output in a message, a megabyte of user input", () => {
  const tool = reported(new RuntimeFailure("runc create failed:\n  container_linux.go:380: starting\n  exit status 1"));
  assert.deepEqual(tool, { text: "error: runc create failed: container_linux.go:380: starting exit status 1\n", code: 2 });
  const long = reported(new UserError(`bad tag ${"x".repeat(1 << 20)}`));
  assert.equal(long.code, 1);
  assert.equal(long.text.split("\n").length, 2);
  assert.ok(long.text.length <= 2100, `${long.text.length} characters`);
  assert.match(long.text, /^error: bad tag x+…\[\d+ characters left out\]…x+\n$/);
});
