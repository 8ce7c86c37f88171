// The native sha256 (OpenSSL through the addon) must give node:crypto's digests for every input shape
// tsbuild hashes: strings (UTF-8, with NULs: cache keys join fields with \0), bytes, chunks, nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { newHash, randomHex, sha256 } from "./digest.js";
import { native } from "./native.js";

const reference = (parts: Array<string | Uint8Array>): string => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest("hex");
};

test("the native sha256 is in this process and agrees with node:crypto", () => {
  assert.equal(native().sha256Available(), true, "Node's OpenSSL is found by the addon");
  const inputs: Array<Array<string | Uint8Array>> = [
    [],
    [""],
    ["abc"],
    ["file\u00000644\u0000sha256:ab", "naïve ✓ 𝄞"],
    [Buffer.from([0, 1, 2, 255])],
    [new Uint8Array(1 << 20).fill(7), "tail"],
    [Buffer.from("abcdef").subarray(2, 4)],
  ];
  for (const parts of inputs) {
    const h = newHash();
    for (const p of parts) h.update(p);
    assert.equal(h.digest("hex"), reference(parts), JSON.stringify(parts.map((p) => (typeof p === "string" ? p : p.length))));
  }
  assert.equal(sha256("abcdef"), `sha256:${reference(["abcdef"])}`);
});

test("a digest is taken once; randomHex gives that many random bytes in hex", () => {
  const h = newHash().update("x");
  h.digest("hex");
  assert.throws(() => h.digest("hex"), /digest already called/);
  assert.throws(() => h.update("y"), /digest already called/);
  const a = randomHex(6);
  assert.match(a, /^[0-9a-f]{12}$/);
  assert.notEqual(a, randomHex(6));
});
