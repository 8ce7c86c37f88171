// BuildKit's own parser expectations: every testfiles/<case> dumps to its `result`, every
// testfiles-negative/<case> is rejected, testfile-line reports BuildKit's line ranges.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { DockerfileError } from "../../common/errors.js";
import { dumpDockerfile, parseDockerfile } from "./index.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const dataDir = path.resolve(repoRoot, "../shared/conformance/buildkit");

const positive = readdirSync(path.join(dataDir, "testfiles")).sort();
const negative = readdirSync(path.join(dataDir, "testfiles-negative")).sort();

test("conformance data is present", () => {
  assert.ok(positive.length >= 30, String(positive.length));
  assert.ok(negative.length >= 4, String(negative.length));
});

for (const name of positive) {
  test(`testfiles/${name}`, () => {
    const dir = path.join(dataDir, "testfiles", name);
    const text = readFileSync(path.join(dir, "Dockerfile"), "utf8");
    const expected = readFileSync(path.join(dir, "result"), "utf8");
    assert.equal(dumpDockerfile(parseDockerfile(text, "Dockerfile")), expected.trimEnd());
  });
}

for (const name of negative) {
  test(`testfiles-negative/${name}`, () => {
    const text = readFileSync(path.join(dataDir, "testfiles-negative", name, "Dockerfile"), "utf8");
    assert.throws(() => parseDockerfile(text, "Dockerfile"), DockerfileError);
  });
}

test("testfile-line: start and end lines as written", () => {
  const text = readFileSync(path.join(dataDir, "testfile-line", "Dockerfile"), "utf8");
  const parsed = parseDockerfile(text, "Dockerfile");
  assert.deepEqual(
    parsed.nodes.map((n) => [n.startLine, n.endLine]),
    [
      [5, 5],
      [11, 12],
      [17, 31],
    ],
  );
});
