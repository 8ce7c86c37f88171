import { test } from "node:test";
import assert from "node:assert/strict";
import { sha256 } from "../common/digest.js";
import { canonicalJson, stepIdentity, stepKey, type StepRecord } from "./key.js";

const base = sha256("base image config");

function record(over: Partial<StepRecord> = {}): StepRecord {
  return {
    parentKey: base,
    instruction: "RUN",
    text: "RUN make",
    definition: { argv: ["/bin/sh", "-c", "make"], env: ["PATH=/bin", "A=1"], workdir: "/app", user: "" },
    buildArgs: { VERSION: "1" },
    ...over,
  };
}

test("the same record gives the same key", () => {
  assert.equal(stepKey(record()), stepKey(record()));
  assert.match(stepKey(record()), /^sha256:[a-f0-9]{64}$/);
});

test("the order of object keys does not matter, at any depth", () => {
  const a = record({ definition: { workdir: "/app", flags: { chmod: "755", chown: "1:1" } }, buildArgs: { A: "1", B: "2" } });
  const b = record({ buildArgs: { B: "2", A: "1" }, definition: { flags: { chown: "1:1", chmod: "755" }, workdir: "/app" } });
  assert.equal(stepKey(a), stepKey(b));
});

test("array order matters (argv, env)", () => {
  const a = record({ definition: { env: ["A=1", "B=2"] } });
  const b = record({ definition: { env: ["B=2", "A=1"] } });
  assert.notEqual(stepKey(a), stepKey(b));
});

test("every part of the record counts", () => {
  const k = stepKey(record());
  const variants: Array<Partial<StepRecord>> = [
    { parentKey: sha256("other parent") },
    { instruction: "COPY" },
    { text: "RUN  make" },
    { definition: { argv: ["/bin/sh", "-c", "make"], env: ["PATH=/bin", "A=2"], workdir: "/app", user: "" } },
    { definition: { argv: ["/bin/sh", "-c", "make"], env: ["PATH=/bin", "A=1"], workdir: "/src", user: "" } },
    { buildArgs: { VERSION: "2" } },
    { buildArgs: { VERSION: "1", OTHER: "" } },
    { inputs: { digest: sha256("files"), files: [] } },
  ];
  const keys = new Set([k, ...variants.map((v) => stepKey(record(v)))]);
  assert.equal(keys.size, variants.length + 1);
});

test("the inputs count through their aggregate digest only", () => {
  const digest = sha256("aggregate");
  const a = record({ inputs: { digest, files: [{ path: "a", digest: sha256("a"), mode: 0o644, type: "file" }] } });
  const b = record({ inputs: { digest, files: [] } });
  assert.equal(stepKey(a), stepKey(b));
  assert.notEqual(stepKey(a), stepKey(record({ inputs: { digest: sha256("other"), files: [] } })));
});

test("undefined members are the same as absent ones", () => {
  assert.equal(stepKey(record({ definition: { workdir: "/app", user: undefined } })), stepKey(record({ definition: { workdir: "/app" } })));
});

test("canonicalJson sorts keys and refuses what JSON cannot say", () => {
  assert.equal(canonicalJson({ b: 1, a: [{ d: 1, c: 2 }], __proto__x: null }), '{"__proto__x":null,"a":[{"c":2,"d":1}],"b":1}');
  assert.equal(canonicalJson(JSON.parse('{"__proto__": 1, "a": 2}')), '{"__proto__":1,"a":2}');
  assert.throws(() => canonicalJson({ n: Number.NaN }), TypeError);
  assert.throws(() => canonicalJson({ d: new Date(0) }), TypeError);
  assert.throws(() => canonicalJson({ f: () => 1 }), TypeError);
});

test("a known record has a known key (the key format is stable across versions of this code)", () => {
  const rec: StepRecord = {
    parentKey: sha256("parent"),
    instruction: "RUN",
    text: "RUN true",
    definition: { argv: ["true"] },
    buildArgs: {},
  };
  const expected = sha256(
    `{"buildArgs":{},"definition":{"argv":["true"]},"inputs":null,"instruction":"RUN","parentKey":"${sha256("parent")}","text":"RUN true","v":1}`,
  );
  assert.equal(stepKey(rec), expected);
});

test("stepIdentity tells steps apart and is stable", () => {
  const a = stepIdentity("/src/Dockerfile", "build", 2);
  assert.equal(a, stepIdentity("/src/Dockerfile", "build", 2));
  const others = [stepIdentity("/src/Dockerfile", "build", 3), stepIdentity("/src/Dockerfile", 0, 2), stepIdentity("/other/Dockerfile", "build", 2)];
  assert.equal(new Set([a, ...others]).size, 4);
});
