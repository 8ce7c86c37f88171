import assert from "node:assert/strict";
import { test } from "node:test";
import { InstructionError } from "./request.js";
import { assertFromNotExpanded, parseRunMount } from "./runmount.js";

test("bind is the default type, read-only unless rw; target aliases", () => {
  assert.deepEqual(parseRunMount("target=/src"), { type: "bind", target: "/src", readOnly: true, sharing: "shared", required: false });
  const rw = parseRunMount("type=bind,src=sub,dst=/m,from=build,rw");
  assert.equal(rw.readOnly, false);
  assert.equal(rw.source, "sub");
  assert.equal(rw.from, "build");
  assert.equal(parseRunMount("destination=/m,readonly=false").readOnly, false);
});

test("cache: writable, id defaults to the target, mode octal, uid/gid, sharing", () => {
  const m = parseRunMount("type=cache,target=/root/.cache,mode=0700,uid=5,gid=6,sharing=locked");
  assert.equal(m.readOnly, false);
  assert.equal(m.id, "/root/.cache");
  assert.equal(m.mode, 0o700);
  assert.equal(m.uid, 5);
  assert.equal(m.gid, 6);
  assert.equal(m.sharing, "locked");
  assert.equal(parseRunMount("type=cache,target=/c,id=npm").id, "npm");
});

test("secret: target defaults to /run/secrets/ID, id to the target's name; required as a bare flag", () => {
  const s = parseRunMount("type=secret,id=npmrc,required");
  assert.equal(s.target, "/run/secrets/npmrc");
  assert.equal(s.required, true);
  assert.equal(parseRunMount("type=secret,target=/etc/token").id, "token");
});

test("tmpfs size units", () => {
  assert.equal(parseRunMount("type=tmpfs,target=/t,size=1m").size, 1024 * 1024);
  assert.equal(parseRunMount("type=tmpfs,target=/t,size=2048").size, 2048);
});

test("a quoted field may hold commas", () => {
  assert.equal(parseRunMount('type=bind,"source=a,b",target=/x').source, "a,b");
});

for (const [spec, words] of [
  ["type=nfs,target=/x", /unsupported mount type "nfs"/],
  ["type=bind,target=/x,colour=blue", /unexpected key 'colour'/],
  ["type=bind", /mount destination must be set/],
  ["type=secret", /one of id or target/],
  ["type=cache,target=/c,sharing=sometimes", /unsupported sharing value/],
  ["type=cache,target=/c,mode=999", /invalid value for mode/],
  ["type=cache,target=/c,uid=x", /invalid value for uid/],
  ["type=bind,target=/c,size=1m", /size cannot be used/],
  ["type=bind,target", /invalid field 'target' must be a key=value pair/],
  ["type=bind,target=/c,ro=maybe", /invalid value for ro/],
] as const) {
  test(`rejects ${spec}`, () => {
    assert.throws(() => parseRunMount(spec), (e: unknown) => e instanceof InstructionError && words.test(e.message));
  });
}

test("from= is taken as written: a variable in it is refused (BuildKit: define an alias stage)", () => {
  assert.throws(() => assertFromNotExpanded("from=$ttt,type=cache,target=/tmp"), /'from' doesn't support variable expansion, define alias stage instead/);
  assert.throws(() => assertFromNotExpanded("type=bind,FROM=${X},target=/x"), /define alias stage/);
  assert.doesNotThrow(() => assertFromNotExpanded("type=cache,target=$DIR,from=seed"));
  assert.doesNotThrow(() => assertFromNotExpanded("type=cache,target=/c,id=a$"));
});
