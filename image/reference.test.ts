import { test } from "node:test";
import assert from "node:assert/strict";
import { ImageReferenceError } from "../common/errors.js";
import { idPrefix, isShortId, parseReference, shortId } from "./reference.js";
import { chainIds } from "./config.js";
import { sha256 } from "../common/digest.js";

const HEX = "a".repeat(64);

test("normalizes references as Docker does", () => {
  const table: [string, string, string][] = [
    ["app", "docker.io/library/app:latest", "app:latest"],
    ["app:1.0", "docker.io/library/app:1.0", "app:1.0"],
    ["me/app", "docker.io/me/app:latest", "me/app:latest"],
    ["docker.io/library/app:2", "docker.io/library/app:2", "app:2"],
    ["index.docker.io/library/app", "docker.io/library/app:latest", "app:latest"],
    ["localhost:5000/x", "localhost:5000/x:latest", "localhost:5000/x:latest"],
    ["localhost/x:t", "localhost/x:t", "localhost/x:t"],
    ["Localhost:5000/x", "Localhost:5000/x:latest", "Localhost:5000/x:latest"],
    ["ghcr.io/a/b/c:V1.2_x", "ghcr.io/a/b/c:V1.2_x", "ghcr.io/a/b/c:V1.2_x"],
    [`app@sha256:${HEX}`, `docker.io/library/app@sha256:${HEX}`, `app@sha256:${HEX}`],
    [`app:1@sha256:${HEX}`, `docker.io/library/app:1@sha256:${HEX}`, `app:1@sha256:${HEX}`],
    ["a__b.c-d---e", "docker.io/library/a__b.c-d---e:latest", "a__b.c-d---e:latest"],
  ];
  for (const [input, full, familiar] of table) {
    const r = parseReference(input);
    assert.equal(r.full, full, input);
    assert.equal(r.familiar, familiar, input);
    assert.equal(r.name, `${r.domain}/${r.path}`);
  }
  const r = parseReference("localhost:5000/x");
  assert.equal(r.domain, "localhost:5000");
  assert.equal(r.path, "x");
  assert.equal(r.tag, undefined);
});

test("rejects bad references with Docker's messages", () => {
  // Messages as `docker tag busybox:local X` (Docker 26) prints them.
  const table: [string, string][] = [
    ["App", '"App" is not a valid repository/tag: invalid reference format: repository name must be lowercase'],
    ["UPPER/x", '"UPPER/x" is not a valid repository/tag: invalid reference format: repository name must be lowercase'],
    ["a/B/c", '"a/B/c" is not a valid repository/tag: invalid reference format: repository name must be lowercase'],
    ["a b", '"a b" is not a valid repository/tag: invalid reference format'],
    ["foo:", '"foo:" is not a valid repository/tag: invalid reference format'],
    [":tag", '":tag" is not a valid repository/tag: invalid reference format'],
    ["foo@sha256:abc", '"foo@sha256:abc" is not a valid repository/tag: invalid reference format'],
    ["foo:bad!tag", '"foo:bad!tag" is not a valid repository/tag: invalid reference format'],
    ["-foo", '"-foo" is not a valid repository/tag: invalid reference format'],
    ["", '"" is not a valid repository/tag: invalid reference format'],
    ["a".repeat(260), `"${"a".repeat(260)}" is not a valid repository/tag: repository name must not be more than 255 characters`],
    [HEX, `invalid repository name (${HEX}), cannot specify 64-byte hexadecimal strings`],
  ];
  for (const [input, message] of table) {
    assert.throws(() => parseReference(input), (e: unknown) => {
      assert.ok(e instanceof ImageReferenceError, input);
      assert.equal(e.message, message);
      assert.equal(e.reference, input);
      return true;
    });
  }
});

test("id prefixes", () => {
  assert.equal(isShortId("0123456789ab"), true);
  assert.equal(isShortId("0123456789a"), false);
  assert.equal(isShortId("app"), false);
  assert.equal(isShortId(`sha256:${HEX}`), true);
  assert.equal(idPrefix(`sha256:${HEX}`), HEX);
  assert.equal(idPrefix("sha256:abc"), "abc");
  assert.equal(idPrefix("0123456789ABCDEF"), undefined);
  assert.equal(shortId(`sha256:0123456789abcdef${"0".repeat(48)}`), "0123456789ab");
});

test("chain ids follow the OCI rule", () => {
  const a = sha256("a");
  const b = sha256("b");
  const c = sha256("c");
  const ids = chainIds([a, b, c]);
  assert.equal(ids[0], a);
  assert.equal(ids[1], sha256(`${a} ${b}`));
  assert.equal(ids[2], sha256(`${ids[1]} ${c}`));
  assert.deepEqual(chainIds([]), []);
});
