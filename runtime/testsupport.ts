// Helpers for runtime tests: a throw-away store and the busybox base rootfs as a committed snapshot.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { sha256File, type Digest } from "../common/digest.js";
import { storePaths, type StorePaths } from "../common/storepaths.js";
import { Snapshotter } from "./snapshotter.js";
import { mountsUnder, unmount } from "./mounts.js";

const here = dirname(fileURLToPath(import.meta.url));
const MAKE_ROOTFS = join(here, "..", "testdata", "busybox", "make-rootfs.sh");

export async function tempStore(): Promise<{ paths: StorePaths; cleanup(): Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), "tsbuild-rt-"));
  return {
    paths: storePaths(root),
    async cleanup() {
      for (const m of await mountsUnder(root)) await unmount(m);
      await rm(root, { recursive: true, force: true });
    },
  };
}

let rootfsTar: Promise<string> | undefined;

/** The busybox rootfs tar from testdata/busybox/make-rootfs.sh (built once per test process). */
export function busyboxTar(): Promise<string> {
  rootfsTar ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), "tsbuild-bb-"));
    const out = join(dir, "rootfs.tar");
    await execa(MAKE_ROOTFS, [out]);
    process.on("exit", () => void execa("rm", ["-rf", dir]));
    return out;
  })();
  return rootfsTar;
}

/** Commits the busybox rootfs as a base snapshot; returns its chain ID (the tar's digest). */
export async function busyboxSnapshot(snap: Snapshotter): Promise<Digest> {
  const tar = await busyboxTar();
  const diffId = await sha256File(tar);
  if (await snap.has(diffId)) return diffId;
  const active = await snap.prepare(null);
  await execa("tar", ["-xf", tar, "-C", active.upper, "--numeric-owner"]);
  await snap.commit(active, diffId);
  return diffId;
}
