// BuildKit's own shell-expansion expectations (envVarTest, wordsTest), one test per line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { envFrom, processWord, processWords, WordExpansionError } from "./index.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const dataDir = path.resolve(repoRoot, "../shared/conformance/buildkit");

const envVarEnv = envFrom({ PWD: "/home", SHELL: "bash", KOREAN: "한국어", NULL: "" });

const envVarLines = readFileSync(path.join(dataDir, "envVarTest"), "utf8").split("\n");
let envVarCases = 0;
envVarLines.forEach((raw, i) => {
  const line = raw.trim();
  if (line === "" || line.startsWith("#")) return;
  const parts = line.split("|");
  assert.equal(parts.length, 3, `envVarTest:${i + 1} malformed`);
  const [platform, input, expected] = parts.map((p) => p.trim()) as [string, string, string];
  if (platform !== "A" && platform !== "U") return;
  envVarCases++;
  test(`envVarTest:${i + 1} ${input}`, () => {
    if (expected === "error") {
      assert.throws(() => processWord(input, envVarEnv), WordExpansionError);
    } else {
      assert.equal(processWord(input, envVarEnv).result, expected);
    }
  });
});

test("envVarTest has cases", () => assert.ok(envVarCases > 150, String(envVarCases)));

const wordsLines = readFileSync(path.join(dataDir, "wordsTest"), "utf8").split("\n");
const wordsEnv = new Map<string, string>();
let wordsCases = 0;
wordsLines.forEach((raw, i) => {
  if (raw.trim() === "" || raw.startsWith("#")) return;
  if (raw.startsWith("ENV ")) {
    const assignment = raw.slice(4);
    const eq = assignment.indexOf("=");
    wordsEnv.set(assignment.slice(0, eq), assignment.slice(eq + 1));
    return;
  }
  const parts = raw.split("|");
  assert.equal(parts.length, 2, `wordsTest:${i + 1} malformed`);
  const input = parts[0]!.trim();
  // BuildKit trims only the left side of the expectation: trailing spaces are part of it
  const expected = parts[1]!.replace(/^ +/, "");
  const env = envFrom(new Map(wordsEnv));
  wordsCases++;
  test(`wordsTest:${i + 1} ${input}`, () => {
    if (expected === "error") {
      assert.throws(() => processWords(input, env), WordExpansionError);
    } else {
      assert.deepEqual(processWords(input, env), expected.split(","));
    }
  });
});

test("wordsTest has cases", () => assert.ok(wordsCases > 20, String(wordsCases)));
