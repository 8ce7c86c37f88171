import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, mkdir, writeFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveUser, resolveChown, UnknownUserError } from "./user.js";
import { UserError } from "../common/errors.js";

async function withRootfs(fn: (root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "tsbuild-user-"));
  try {
    await mkdir(join(root, "etc"));
    await writeFile(
      join(root, "etc", "passwd"),
      "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000:app:/home/app:/bin/sh\n# comment\nnohome:x:1001:1001::",
    );
    await writeFile(join(root, "etc", "group"), "root:x:0:\nnogroup:x:65534:\napp:x:1000:\nwheel:x:10:app,other\nstaff:x:50:app\n");
    await fn(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

// Expectations observed with BuildKit (dockerd 26) on the busybox base: `USER 1234` → uid=1234 gid=0;
// `USER app:nogroup` → 1000:65534; `USER nobody:5555` → 65534:5555; unknown names fail with runc's message.
test("resolveUser follows Docker's rules", async () => {
  await withRootfs(async (root) => {
    assert.deepEqual(await resolveUser(root, ""), { uid: 0, gid: 0, additionalGids: [], home: "/root" });
    assert.deepEqual(await resolveUser(root, "app"), { uid: 1000, gid: 1000, additionalGids: [10, 50], home: "/home/app" });
    assert.deepEqual(await resolveUser(root, "1000"), { uid: 1000, gid: 1000, additionalGids: [10, 50], home: "/home/app" });
    assert.deepEqual(await resolveUser(root, "1234"), { uid: 1234, gid: 0, additionalGids: [], home: "/" });
    assert.deepEqual(await resolveUser(root, "app:nogroup"), { uid: 1000, gid: 65534, additionalGids: [], home: "/home/app" });
    assert.deepEqual(await resolveUser(root, "nobody:5555"), { uid: 65534, gid: 5555, additionalGids: [], home: "/nonexistent" });
    assert.deepEqual(await resolveUser(root, "1234:77"), { uid: 1234, gid: 77, additionalGids: [], home: "/" });
    assert.deepEqual(await resolveUser(root, "nohome"), { uid: 1001, gid: 1001, additionalGids: [], home: "/" });
  });
});

test("resolveUser names a missing user or group like runc", async () => {
  await withRootfs(async (root) => {
    await assert.rejects(resolveUser(root, "nosuch"), (e: unknown) => {
      assert.ok(e instanceof UnknownUserError && e instanceof UserError);
      assert.equal(e.message, "unable to find user nosuch: no matching entries in passwd file");
      return true;
    });
    await assert.rejects(resolveUser(root, "app:nosuch"), {
      message: "unable to find group nosuch: no matching entries in group file",
    });
  });
});

test("resolveUser reads passwd inside the rootfs, following links within it", async () => {
  const root = await mkdtemp(join(tmpdir(), "tsbuild-user-"));
  try {
    await mkdir(join(root, "real"));
    await writeFile(join(root, "real", "passwd"), "web:x:33:33::/var/www:/bin/sh\n");
    await mkdir(join(root, "etc"));
    await symlink("/real/passwd", join(root, "etc", "passwd"));
    assert.equal((await resolveUser(root, "web")).uid, 33);
    // no /etc/group at all: numeric ids still work
    assert.deepEqual(await resolveUser(root, "5:6"), { uid: 5, gid: 6, additionalGids: [], home: "/" });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

// Expectations observed with BuildKit (dockerd 26): --chown=app → 1000:1000, =1234 → 1234:1234,
// =1234:app → 1234:1000, =app:65534 → 1000:65534, =nobody:app → 65534:1000, =nosuch → 0:0,
// =app:nosuch → 1000:1000, =:app → 0:1000; and (testdata/cases/user-unknown, also USER then WORKDIR)
// =nosuch:12 → 0:12, =7:nosuch → 7:7, =7: → 7:0, =1:root → 1:0.
test("resolveChown follows BuildKit's COPY --chown", async () => {
  await withRootfs(async (root) => {
    const cases: Array<[string, number, number]> = [
      ["app", 1000, 1000],
      ["1234", 1234, 1234],
      ["1234:app", 1234, 1000],
      ["app:65534", 1000, 65534],
      ["nobody:app", 65534, 1000],
      ["nosuch", 0, 0],
      ["app:nosuch", 1000, 1000],
      [":app", 0, 1000],
      ["nosuch:12", 0, 12],
      ["7:nosuch", 7, 7],
      ["7:", 7, 0],
      ["1:root", 1, 0],
      ["root", 0, 0],
      ["+5", 5, 5],
    ];
    for (const [spec, uid, gid] of cases) {
      assert.deepEqual(await resolveChown(root, spec), { uid, gid }, spec);
    }
  });
});

test("resolveChown tells of each name it could not find", async () => {
  await withRootfs(async (root) => {
    const heard: string[] = [];
    const ids = await resolveChown(root, "nosuch:nogrp", (kind, name) => heard.push(`${kind} ${name}`));
    assert.deepEqual(ids, { uid: 0, gid: 0 });
    assert.deepEqual(heard, ["user nosuch", "group nogrp"]);
    heard.length = 0;
    await resolveChown(root, "app:app", (kind, name) => heard.push(`${kind} ${name}`));
    await resolveChown(root, "5:", (kind, name) => heard.push(`${kind} ${name}`));
    assert.deepEqual(heard, []);
  });
  // no /etc/passwd at all (a scratch image): a name is unknown, a number is not
  const empty = await mkdtemp(join(tmpdir(), "tsbuild-user-"));
  try {
    const heard: string[] = [];
    assert.deepEqual(await resolveChown(empty, "app", (kind, name) => heard.push(`${kind} ${name}`)), { uid: 0, gid: 0 });
    assert.deepEqual(await resolveChown(empty, "1:2", (kind, name) => heard.push(`${kind} ${name}`)), { uid: 1, gid: 2 });
    assert.deepEqual(heard, ["user app"]);
  } finally {
    await rm(empty, { recursive: true, force: true });
  }
});
