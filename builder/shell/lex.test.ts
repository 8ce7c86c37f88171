import { test } from "node:test";
import assert from "node:assert/strict";
import { envFrom, processWord, processWords, processWithOptions, WordExpansionError } from "./index.js";

const env = envFrom({ X: "foo/bar/baz", EMPTY: "", V: "1" });

test("prefix and suffix removal, shortest and longest", () => {
  assert.equal(processWord("${X#*/}", env).result, "bar/baz");
  assert.equal(processWord("${X##*/}", env).result, "baz");
  assert.equal(processWord("${X%/*}", env).result, "foo/bar");
  assert.equal(processWord("${X%%/*}", env).result, "foo");
  assert.equal(processWord("${X#nomatch}", env).result, "foo/bar/baz");
  assert.equal(processWord("${X%b?z}", env).result, "foo/bar/");
});

test("pattern replacement, first and all", () => {
  assert.equal(processWord("${X/ba/BA}", env).result, "foo/BAr/baz");
  assert.equal(processWord("${X//ba/BA}", env).result, "foo/BAr/BAz");
  assert.equal(processWord("${X//\\//:}", env).result, "foo:bar:baz");
});

test("unsupported forms are errors, as in BuildKit", () => {
  assert.throws(() => processWord("${X:#a}", env), WordExpansionError);
  assert.throws(() => processWord("${#X}", env), /unsupported modifier/);
  assert.throws(() => processWord("${X:?}", envFrom({ X: "" })), /X: is not allowed to be empty/);
  assert.throws(() => processWord("${Y?custom message}", env), /Y: custom message/);
});

test("matched and unmatched variables are reported", () => {
  const r = processWord("$V ${NOPE:-x} '$Q' \"$EMPTY\"", env);
  assert.equal(r.result, "1 x $Q ");
  assert.deepEqual([...r.matched].sort(), ["EMPTY", "V"]);
  assert.deepEqual([...r.unmatched], ["NOPE"]);
});

test("backtick as the escape character", () => {
  assert.equal(processWord("a`$V\\b", env, "`").result, "a$V\\b");
  assert.deepEqual(processWords("a` b c", env, "`"), ["a b", "c"]);
});

test("skipUnsetEnv and rawQuotes keep what they do not expand", () => {
  const r = processWithOptions("'q' $NOPE ${NOPE:-d} $V", env, { rawQuotes: true, skipUnsetEnv: true });
  assert.equal(r.result, "'q' $NOPE ${NOPE:-d} 1");
});

test("skipProcessQuotes leaves quotes alone (heredoc bodies)", () => {
  assert.equal(processWithOptions("echo \"$V\" '$V'\n", env, { skipProcessQuotes: true }).result, "echo \"1\" '1'\n");
});
