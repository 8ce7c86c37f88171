import { test } from "node:test";
import assert from "node:assert/strict";
import { BadPatternError, hasWildcard, matchComponent } from "./pathmatch.js";

// Go's path/filepath match_test.go cases (those without separators): [pattern, name, match | "bad"].
const CASES: Array<[string, string, boolean | "bad"]> = [
  ["abc", "abc", true], ["*", "abc", true], ["*c", "abc", true], ["a*", "a", true], ["a*", "abc", true],
  ["ab[c]", "abc", true], ["ab[b-d]", "abc", true], ["ab[e-g]", "abc", false], ["ab[^c]", "abc", false],
  ["ab[^b-d]", "abc", false], ["ab[^e-g]", "abc", true], ["a\\*b", "a*b", true], ["a\\*b", "ab", false],
  ["a?b", "a☺b", true], ["a[^a]b", "a☺b", true], ["a???b", "a☺b", false], ["a[^a][^a][^a]b", "a☺b", false],
  ["[a-ζ]*", "α", true], ["*[a-ζ]", "A", false], ["[\\]a]", "]", true], ["[\\-]", "-", true], ["[x\\-]", "x", true],
  ["[x\\-]", "-", true], ["[x\\-]", "z", false], ["[\\-x]", "x", true], ["[\\-x]", "-", true], ["[\\-x]", "a", false],
  ["[]a]", "]", "bad"], ["[-]", "-", "bad"], ["[x-]", "x", "bad"], ["[x-]", "-", "bad"], ["[x-]", "z", "bad"],
  ["[-x]", "x", "bad"], ["[a-b-c]", "a", "bad"], ["[", "a", "bad"], ["[^", "a", "bad"], ["[^bc", "a", "bad"],
  ["a[", "ab", "bad"], ["\\", "a", "bad"], ["*x", "xxx", true], ["a.b", "axb", false], ["a+(b)", "a+(b)", true],
  ["*.txt", ".hidden.txt", true], ["?", "", false], ["", "", true],
];

test("matchComponent follows Go's filepath.Match", () => {
  for (const [pattern, name, want] of CASES) {
    if (want === "bad") {
      assert.throws(() => matchComponent(pattern, name), BadPatternError, `${pattern} should be a bad pattern`);
    } else {
      assert.equal(matchComponent(pattern, name), want, `Match(${JSON.stringify(pattern)}, ${JSON.stringify(name)})`);
    }
  }
});

test("hasWildcard ignores escaped wildcard characters", () => {
  assert.equal(hasWildcard("a/b.txt"), false);
  assert.equal(hasWildcard("*.txt"), true);
  assert.equal(hasWildcard("a?"), true);
  assert.equal(hasWildcard("[ab]"), true);
  assert.equal(hasWildcard("a\\*b"), false);
  assert.equal(hasWildcard("a\\\\*b"), true);
});
