// The snapshot store's conformance suite, as containerd runs one suite (snapshots/testsuite) against
// every snapshotter: each verb's contract, checked through the verbs alone (prepare, prepare over an
// uncommitted one, mounts, view, commit, remove, removeCommitted, has, usage, list) plus
// unpackLayer on top of them. `open` gives a store over a folder; two opened on one folder are two
// builds sharing it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, writeFile, mkdir, stat, access } from "node:fs/promises";
import { join } from "node:path";
import { createReadStream } from "node:fs";
import { execa } from "execa";
import { sha256, sha256File, type Digest } from "../common/digest.js";
import { ownerToken } from "../common/owner.js";
import { native } from "../common/native.js";
import { Snapshotter, chainIdOf } from "./snapshotter.js";
import type { StorePaths } from "../common/storepaths.js";
import { mountSpec } from "./mountspec.js";
import { unpackLayer } from "./unpack.js";
import { mountsUnder } from "./mounts.js";
import { tempStore, busyboxSnapshot, busyboxTar } from "./testsupport.js";

test("chainIdOf follows the OCI definition", () => {
  const d1 = sha256("a");
  const d2 = sha256("b");
  assert.equal(chainIdOf(null, d1), d1);
  assert.equal(chainIdOf(d1, d2), sha256(`${d1} ${d2}`));
});

export function snapshotterConformance(open: (paths: StorePaths) => Snapshotter): void {
  test("prepare, mounts, write, commit, view (described: an overlay, one dir, or empty); remove drops an active snapshot", async () => {
    const store = await tempStore();
    try {
      const snap = open(store.paths);
      const base = await busyboxSnapshot(snap);
      assert.ok(await snap.has(base));
      const active = await snap.prepare(base);
      assert.equal(await readFile(join(active.dir, "owner"), "utf8"), ownerToken(), "its owner: pid and start time");
      const m = await mountSpec(await snap.mounts(active), store.paths.tmp);
      await writeFile(join(m.rootfs, "hello"), "hi");
      assert.ok((await stat(join(m.rootfs, "bin", "busybox"))).isFile(), "lower visible through the mount");
      await m.unmount();
      assert.deepEqual(await mountsUnder(store.paths.root), []);
      assert.deepEqual(await readdir(active.upper), ["hello"], "the upper dir is the diff");
      const chain = chainIdOf(base, sha256("layer-2"));
      await snap.commit(active, chain);
      assert.ok(await snap.has(chain));
      await assert.rejects(access(join(active.dir, "owner")), "a committed snapshot has no owner");
      const spec = await snap.view(chain);
      assert.deepEqual(spec.type === "overlay" ? spec.options.lowers.length : spec, 2, "a view of two layers is an overlay of both");
      assert.equal((await snap.view(base)).type, "dir", "a view of one layer is its dir, not a mount");
      assert.deepEqual(await snap.view(null), { type: "empty" });
      const ro = await mountSpec(await snap.view(chain), store.paths.tmp);
      assert.equal(await readFile(join(ro.rootfs, "hello"), "utf8"), "hi");
      await ro.unmount();
      const single = await mountSpec(await snap.view(base), store.paths.tmp);
      assert.ok((await stat(join(single.rootfs, "bin", "busybox"))).isFile());
      await single.unmount();
      const empty = await mountSpec(await snap.view(null), store.paths.tmp);
      assert.deepEqual(await readdir(empty.rootfs), []);
      await empty.unmount();

      const dropped = await snap.prepare(chain);
      await snap.remove(dropped);
      await assert.rejects(access(dropped.dir));
      assert.deepEqual(await mountsUnder(store.paths.root), []);
    } finally {
      await store.cleanup();
    }
  });

  test("commit of a chain that already exists keeps the existing one", async () => {
    const store = await tempStore();
    try {
      const a = open(store.paths);
      const b = open(store.paths); // another build in the same store
      const chain = sha256("same");
      const first = await a.prepare(null);
      const second = await b.prepare(null);
      assert.notEqual(first.id, second.id);
      await writeFile(join(first.upper, "who"), "first");
      await writeFile(join(second.upper, "who"), "second");
      assert.equal(await a.commit(first, chain), true);
      assert.equal(await b.commit(second, chain), false, "the chain exists: the second is not published");
      await access(second.dir); // left to its caller, still active
      assert.deepEqual((await b.list()).map((i) => i.chainId), [chain], "listed once");
      await b.remove(second);
      await assert.rejects(access(second.dir), "the loser's folder is gone");
      const ro = await mountSpec(await b.view(chain), store.paths.tmp);
      assert.equal(await readFile(join(ro.rootfs, "who"), "utf8"), "first");
      await ro.unmount();
    } finally {
      await store.cleanup();
    }
  });

  test("a chain of 130 layers mounts at once, upper layers win", async () => {
    const store = await tempStore();
    try {
      const snap = open(store.paths);
      let parent: Digest | null = null;
      for (let i = 1; i <= 130; i++) {
        const active = await snap.prepare(parent);
        await writeFile(join(active.upper, `f${i}`), String(i));
        await mkdir(join(active.upper, "shared"), { recursive: true });
        await writeFile(join(active.upper, "shared", "top"), String(i));
        const chain: Digest = chainIdOf(parent, sha256(`layer ${i}`));
        await snap.commit(active, chain);
        parent = chain;
      }
      assert.ok(parent !== null);
      const active = await snap.prepare(parent);
      const m = await mountSpec(await snap.mounts(active), store.paths.tmp);
      try {
        assert.equal(await readFile(join(m.rootfs, "f1"), "utf8"), "1");
        assert.equal(await readFile(join(m.rootfs, "f130"), "utf8"), "130");
        assert.equal(await readFile(join(m.rootfs, "shared", "top"), "utf8"), "130");
        assert.equal((await readdir(m.rootfs)).length, 131);
      } finally {
        await m.unmount();
      }
      await snap.remove(active);
      assert.deepEqual(await mountsUnder(store.paths.root), []);
    } finally {
      await store.cleanup();
    }
  });

  test("unpackLayer applies layer tars into overlay-format snapshots keyed by chain ID", async () => {
    const store = await tempStore();
    try {
      const snap = open(store.paths);
      const tar = await busyboxTar();
      const diff1 = await sha256File(tar);
      let opened = 0;
      const open1 = () => {
        opened++;
        return createReadStream(tar);
      };
      const base = await unpackLayer(snap, null, diff1, open1);
      assert.equal(base, diff1);
      assert.equal(await unpackLayer(snap, null, diff1, open1), diff1, "an existing chain is reused");
      assert.equal(opened, 1, "without reading the layer again");

      // Layer 2 deletes /bin/ls and makes /etc opaque with one new file.
      const work = join(store.paths.root, "layer2");
      await mkdir(join(work, "bin"), { recursive: true });
      await mkdir(join(work, "etc"), { recursive: true });
      await writeFile(join(work, "bin", ".wh.ls"), "");
      await writeFile(join(work, "etc", ".wh..wh..opq"), "");
      await writeFile(join(work, "etc", "only"), "1");
      const tar2 = join(store.paths.root, "layer2.tar");
      await execa("tar", ["--sort=name", "--owner=0", "--group=0", "--numeric-owner", "-C", work, "-cf", tar2, "bin", "etc"]);
      const diff2 = await sha256File(tar2);
      const chain = await unpackLayer(snap, base, diff2, () => createReadStream(tar2));
      assert.equal(chain, chainIdOf(base, diff2));
      const upper = await snap.diffDir(chain);
      const wh = await stat(join(upper, "bin", "ls"));
      assert.ok(wh.isCharacterDevice() && wh.rdev === 0);
      const ro = await mountSpec(await snap.view(chain), store.paths.tmp);
      try {
        await assert.rejects(access(join(ro.rootfs, "bin", "ls")));
        await access(join(ro.rootfs, "bin", "cat"));
        assert.deepEqual(await readdir(join(ro.rootfs, "etc")), ["only"]);
      } finally {
        await ro.unmount();
      }
    } finally {
      await store.cleanup();
    }
  });

  test("removeCommitted drops a leaf snapshot and refuses a parent; usage counts the top layer", async () => {
    const store = await tempStore();
    try {
      const snap = open(store.paths);
      const parentActive = await snap.prepare(null);
      await writeFile(join(parentActive.upper, "a"), "12345");
      const parent = sha256("p");
      await snap.commit(parentActive, parent);
      const childActive = await snap.prepare(parent);
      await mkdir(join(childActive.upper, "d"));
      await writeFile(join(childActive.upper, "d", "b"), "xy");
      const child = chainIdOf(parent, sha256("c"));
      await snap.commit(childActive, child);
      assert.deepEqual(await snap.usage(parent), { bytes: 5, inodes: 1 });
      assert.deepEqual(await snap.usage(child), { bytes: 2, inodes: 2 });
      await assert.rejects(snap.removeCommitted(parent), /is the parent of/);
      await snap.removeCommitted(child);
      assert.equal(await snap.has(child), false);
      await assert.rejects(access(childActive.dir));
      await snap.removeCommitted(parent);
      assert.equal(await open(store.paths).has(parent), false);
    } finally {
      await store.cleanup();
    }
  });

  test("a snapshot prepared over an uncommitted one: mounted over it, committed on the chain that one became", async () => {
    const store = await tempStore();
    try {
      const snap = open(store.paths);
      const base = await busyboxSnapshot(snap);
      const first = await snap.prepare(base);
      await writeFile(join(first.upper, "first"), "1");
      const second = await snap.prepare(base, { over: first });
      const m = await mountSpec(await snap.mounts(second), store.paths.tmp);
      assert.equal(await readFile(join(m.rootfs, "first"), "utf8"), "1", "the uncommitted snapshot is under it");
      await writeFile(join(m.rootfs, "second"), "2");
      await m.unmount();

      // the first one's layer turns out to exist already: not published, left to the caller to remove
      const firstChain = chainIdOf(base, sha256("first"));
      const other = await snap.prepare(base);
      await writeFile(join(other.upper, "first"), "1");
      assert.equal(await snap.commit(other, firstChain), true);
      assert.equal(await snap.commit(first, firstChain), false);
      await snap.remove(first);

      const secondChain = chainIdOf(firstChain, sha256("second"));
      await assert.rejects(snap.commit(second, secondChain), /commit it with the chain that one became/);
      await snap.commit(second, secondChain, { parent: firstChain });
      const ro = await mountSpec(await snap.view(secondChain), store.paths.tmp);
      try {
        assert.equal(await readFile(join(ro.rootfs, "first"), "utf8"), "1", "on the chain the first became");
        assert.equal(await readFile(join(ro.rootfs, "second"), "utf8"), "2");
      } finally {
        await ro.unmount();
      }
      assert.deepEqual(await mountsUnder(store.paths.root), []);
    } finally {
      await store.cleanup();
    }
  });
}

snapshotterConformance((paths) => new Snapshotter(paths));

test("the folder snapshots are made in is marked a hierarchy top (ext4 `chattr +T`) where the filesystem has the flag", async (t) => {
  const store = await tempStore();
  try {
    const snap = new Snapshotter(store.paths);
    const active = await snap.prepare(null);
    await snap.remove(active);
    // whether this filesystem takes the flag, asked of another folder (xfs, btrfs, tmpfs and overlayfs
    // refuse it, and the prepare worked all the same: the mark is a hint)
    const probe = join(store.paths.root, "probe");
    await mkdir(probe);
    if (!native().markHierarchyTop(probe)) {
      t.diagnostic("this filesystem has no hierarchy-top flag");
      return;
    }
    const lsattr = await execa("lsattr", ["-d", store.paths.tmp], { reject: false });
    assert.equal(lsattr.exitCode, 0, lsattr.stderr);
    const flags = lsattr.stdout.trim().split(/\s+/)[0] ?? "";
    assert.ok(flags.includes("T"), `lsattr -d ${store.paths.tmp}: ${lsattr.stdout.trim()}`);
  } finally {
    await store.cleanup();
  }
});
