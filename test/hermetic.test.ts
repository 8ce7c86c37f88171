// The suite is hermetic: tests read the repository, their own temp folders (from os.tmpdir()) and
// ../shared only. A test that names a host path (the oracle's folder under the machine's temp dir) passes only on a machine where
// another tool left that file (issue 11: 15 tests failed on a fresh machine). This check reads every
// test source for such paths; `.ci/run` also runs the suite under a private, empty /tmp.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { REPO } from "./helpers.js";

// Tests that need the oracle's dockerd; the Makefile keeps them behind `make interop`.
const INTEROP = new Set(["test/interop-docker.test.ts"]);
const ROOMS = ["common", "builder", "cache", "runtime", "image", "cli", "test"];
const SUPPORT = /(\.test\.ts|\/testsupport\.ts|\/testutil\.ts|\/testkit\.ts|^test\/[^/]+\.ts)$/;
// A host path outside the repository and the test's own temp folders: a literal path under the machine's
// temp dir (os.tmpdir() is where a test's folders go), the oracle's folder, or this machine's checkout
// and shared folder. Spelled in pieces, so that this file does not name what it looks for.
const TMP = ["", "tmp", ""].join("/");
const ORACLE = ["anch", "ors"].join("");
const HOST_PATH = new RegExp(`["'\`](${TMP}[^"'\`\\s]*|/work/(main|shared)[^"'\`\\s]*)|${ORACLE}`);

function testSources(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory() && e.name !== "node_modules") walk(path);
      else if (e.isFile() && SUPPORT.test(relative(REPO, path))) out.push(relative(REPO, path));
    }
  };
  for (const room of ROOMS) walk(join(REPO, room));
  return out.sort();
}

test("no test source names a host path outside the repository, its temp folders and ../shared", () => {
  const sources = testSources();
  assert.ok(sources.length > 50, `found only ${sources.length} test sources`);
  const found: string[] = [];
  for (const file of sources) {
    if (INTEROP.has(file)) continue;
    readFileSync(join(REPO, file), "utf8").split("\n").forEach((line, i) => {
      if (HOST_PATH.test(line)) found.push(`${file}:${i + 1}: ${line.trim().slice(0, 120)}`);
    });
  }
  assert.deepEqual(found, []);
});

test("the interop tests that need the oracle's dockerd stay out of `make test`", () => {
  const makefile = readFileSync(join(REPO, "Makefile"), "utf8");
  const tests = makefile.split("\n").find((l) => l.startsWith("TESTS ?="));
  for (const file of INTEROP) assert.ok(tests?.includes(`! -name '${file.split("/").pop() ?? ""}'`), `${file} is excluded from TESTS`);
});
