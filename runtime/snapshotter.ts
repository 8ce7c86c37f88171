import { lstat, mkdir, readdir, readFile, rm, readlink } from "node:fs/promises";
import { join } from "node:path";
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { digestHex, type Digest } from "../common/digest.js";
import { chainIdOf } from "../image/config.js";
import { errnoCode, RuntimeFailure } from "../common/errors.js";
import { atomicWriteFile } from "../common/fsutil.js";
import type { StorePaths } from "../common/storepaths.js";
import type { MountSpec } from "./mountspec.js";
import { scratchName } from "./owner.js";
import { activeMarkersDir, markerOf, removeSnapshotDir, removeWorkDir, unlinkIfExists } from "./snapshotfiles.js";
import { ownerToken } from "../common/owner.js";
import { native } from "../common/native.js";

// Snapshots, modelled on containerd's snapshotter: verbs that answer with mount descriptions (mounts,
// view: runtime/mountspec.ts mounts them) besides prepare, commit, remove, has, usage and list;
// unpacking a layer into a snapshot is runtime/unpack.ts. A committed snapshot is one unpacked layer in overlay
// format (deletion = 0:0 char device, opaque dir = trusted.overlay.opaque=y) in `snapshots/<n>/fs`,
// published under its OCI chain ID by the symlink `snapshots/chains/<hex>` -> `../<n>`. Folders use short
// numeric ids so that a mount of 120+ layers (`lowerdir=12/fs:11/fs:…`, relative to the snapshots folder,
// as Docker's overlay2 does) fits in the one page the kernel allows for mount options.
// An active snapshot is a folder `snapshots/<n>` with an `owner` file (its build's owner token, pid and
// start time: common/owner.ts) and no meta.
// A snapshot's diff is its one fs dir. (tsbuild once stacked a rebuilt COPY on the snapshot of its
// previous build: such a snapshot's meta lists the extra dirs in `lowers` and counts them in `ownDirs`.
// Everything here reads them through `lowers`, so those snapshots still mount as they were built.)

export interface ActiveSnapshot {
  readonly id: number;
  readonly dir: string;
  /** The overlay upper dir: after the step, it is the diff. */
  readonly upper: string;
  readonly work: string;
  readonly parent: Digest | null;
  /**
   * The previous step's snapshot, unmounted but not committed yet (its layer is still being written):
   * this one is mounted over it (prepare's `over`), and committed on the chain it becomes.
   */
  readonly over?: ActiveSnapshot;
}

interface SnapshotMeta {
  chainId: Digest;
  parent: Digest | null;
  /** Numeric ids of this snapshot and its ancestors, top-most first. */
  lowers: number[];
}

/** A committed snapshot as `list` gives it. */
export interface SnapshotInfo {
  chainId: Digest;
  parent: Digest | null;
  /** Numeric ids of this snapshot's dirs and its ancestors', top-most first (lowers[0] is its own folder). */
  lowers: number[];
}

/** Snapshots are named by chain id (the image's formula: image/config.ts). */
export { chainIdOf };

export class Snapshotter {
  private readonly dir: string;
  private readonly chainsDir: string;
  private readonly metaCache = new Map<Digest, SnapshotMeta>();
  private nextId = 0;
  /** The chains and tmp folders exist (made by the first prepare). */
  private dirsMade = false;

  constructor(private readonly paths: StorePaths) {
    this.dir = paths.snapshots;
    this.chainsDir = join(paths.snapshots, "chains");
  }

  async has(chainId: Digest): Promise<boolean> {
    return (await this.tryMeta(chainId)) !== undefined;
  }

  /**
   * A fresh upper + work dir over `parent` (null: over nothing), owned by this process. `over`: an
   * unmounted active snapshot whose layer is still being written, to be committed on `parent`: the new
   * one is mounted over it, so that the next step can run meanwhile (the caller must not remove `over`
   * while the new one is mounted: builder/fsstep.ts holds it). Commit the new one with the chain `over`
   * became.
   */
  async prepare(parent: Digest | null, options: { over?: ActiveSnapshot } = {}): Promise<ActiveSnapshot> {
    const active = await this.prepareDirs(parent);
    return options.over === undefined ? active : { ...active, over: options.over };
  }

  private async prepareDirs(parent: Digest | null): Promise<ActiveSnapshot> {
    if (parent !== null) await this.meta(parent);
    // Synchronous calls, here and in commit: a handful of quick metadata calls per step, where each
    // thread-pool round trip would cost more than the call.
    if (!this.dirsMade) {
      mkdirSync(this.chainsDir, { recursive: true });
      mkdirSync(activeMarkersDir(this.dir), { recursive: true });
      mkdirSync(this.paths.tmp, { recursive: true });
      // Each snapshot is made in tmp/ (below) and renamed into place: its folder's block group is the
      // one ext4 picks there. With tmp/ marked a hierarchy top, that is the emptiest group (usually one
      // with inodes to spare; right after a store was deleted, the group it freed: DESIGN.md);
      // otherwise it is tmp/'s own, where the snapshots deleted before freed their inodes, which ext4
      // without a journal skips one by one for minutes: ~1 ms a file made (a 6,754-file Debian layer
      // unpacked in 5.5-7.9 s, 0.6-0.8 s with the mark; DESIGN.md).
      native().markHierarchyTop(this.paths.tmp);
      this.dirsMade = true;
    }
    // Built in scratch and renamed into place: a snapshot folder is never seen half-made, and rename
    // onto an existing (non-empty) folder fails, which makes the id allocation race-free.
    const staging = join(this.paths.tmp, scratchName("prep"));
    try {
      mkdirSync(staging);
      mkdirSync(join(staging, "fs"));
      mkdirSync(join(staging, "work"));
      writeFileSync(join(staging, "owner"), ownerToken());
      for (let id = await this.firstFreeId(); ; id++) {
        writeFileSync(markerOf(this.dir, id), "");
        try {
          renameSync(staging, join(this.dir, String(id)));
        } catch (e) {
          unlinkIfExists(markerOf(this.dir, id));
          const code = errnoCode(e);
          if (code === "ENOTEMPTY" || code === "EEXIST") continue;
          throw e;
        }
        this.nextId = id + 1;
        const dir = join(this.dir, String(id));
        return { id, dir, upper: join(dir, "fs"), work: join(dir, "work"), parent };
      }
    } catch (e) {
      rmSync(staging, { recursive: true, force: true });
      throw e;
    }
  }

  /**
   * Publishes an active snapshot as `chainId` and says true. If that chain exists already (a concurrent
   * build made it first, or a rebuild gave the same layer), theirs is kept and false said: ours is left
   * as it was, for the caller to remove. The active snapshot must be unmounted. `parent`: for a
   * snapshot prepared over another (prepare's `over`), the chain that one was committed as.
   */
  async commit(active: ActiveSnapshot, chainId: Digest, options: { parent?: Digest | null } = {}): Promise<boolean> {
    const parent = options.parent === undefined ? active.parent : options.parent;
    if (active.over !== undefined && parent === active.parent) {
      throw new RuntimeFailure(`snapshot ${active.id} is over ${active.over.id}: commit it with the chain that one became`);
    }
    if (await this.has(chainId)) return false;
    const parentLowers = parent === null ? [] : (await this.meta(parent)).lowers;
    const meta: SnapshotMeta = {
      chainId,
      parent,
      lowers: [active.id, ...parentLowers],
    };
    removeWorkDir(active.work);
    await atomicWriteFile(join(active.dir, "meta.json"), JSON.stringify(meta));
    try {
      symlinkSync(`../${active.id}`, this.chainLink(chainId));
    } catch (e) {
      if (errnoCode(e) !== "EEXIST") throw e;
      rmSync(join(active.dir, "meta.json"), { force: true }); // it stays an active snapshot
      return false;
    }
    rmSync(join(active.dir, "owner"), { force: true });
    unlinkIfExists(markerOf(this.dir, active.id));
    this.metaCache.set(chainId, meta);
    return true;
  }

  /** Drops an active (uncommitted, unmounted) snapshot. */
  async remove(active: ActiveSnapshot): Promise<void> {
    await removeSnapshotDir(active.dir, this.paths.tmp);
    unlinkIfExists(markerOf(this.dir, active.id));
  }

  /**
   * Removes a committed snapshot (for garbage collection, which must hold the store's GC lock so that no
   * build mounts it meanwhile). Refuses while another snapshot is built on it (or, made by an older
   * tsbuild, stacked on it).
   */
  async removeCommitted(chainId: Digest): Promise<void> {
    const meta = await this.meta(chainId);
    const id = meta.lowers[0] as number;
    for (const other of await this.list()) {
      if (other.chainId === chainId || !other.lowers.includes(id)) continue;
      const how = other.parent === chainId ? "the parent of" : "under";
      throw new RuntimeFailure(`snapshot ${chainId} is ${how} ${other.chainId}`);
    }
    await rm(this.chainLink(chainId), { force: true });
    this.metaCache.delete(chainId);
    await removeSnapshotDir(join(this.dir, String(id)), this.paths.tmp);
  }

  /** Bytes and inodes used by the top layer of a chain (its own diff, not its parents). */
  async usage(chainId: Digest): Promise<{ bytes: number; inodes: number }> {
    const total = { bytes: 0, inodes: 0 };
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const p = join(dir, entry.name);
        const st = await lstat(p);
        total.inodes++;
        if (st.isFile()) total.bytes += st.size;
        if (entry.isDirectory()) await walk(p);
      }
    };
    await walk(await this.diffDir(chainId));
    return total;
  }

  /** The committed snapshots (folders with a meta.json; active ones have none). */
  async list(): Promise<SnapshotInfo[]> {
    const out: SnapshotInfo[] = [];
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if (errnoCode(e) === "ENOENT") return out;
      throw e;
    }
    for (const name of names) {
      if (!/^\d+$/.test(name)) continue;
      const meta = await this.readMetaFile(join(this.dir, name, "meta.json"));
      if (meta !== undefined) out.push({ chainId: meta.chainId, parent: meta.parent, lowers: meta.lowers });
    }
    return out;
  }

  /** The fs dir of a committed snapshot's own folder: its diff in overlay format. */
  async diffDir(chainId: Digest): Promise<string> {
    return join(this.dir, String((await this.meta(chainId)).lowers[0]), "fs");
  }

  /** How to mount an active snapshot: its chain under its upper dir, writable (the rootfs a step runs in). */
  async mounts(active: ActiveSnapshot): Promise<MountSpec> {
    const parentLowers = active.parent === null ? [] : await this.relativeLowers(active.parent);
    const lowers = [...(active.over === undefined ? [] : [`${active.over.id}/fs`]), ...parentLowers];
    if (lowers.length === 0) lowers.push(await this.emptyLower());
    return { type: "overlay", options: { lowers, upper: `${active.id}/fs`, work: `${active.id}/work`, cwd: this.dir, volatile: true } };
  }

  /** How to mount a read-only view of a committed chain (null: an empty root). Callers must not write to it. */
  async view(chainId: Digest | null): Promise<MountSpec> {
    if (chainId === null) return { type: "empty" };
    const lowers = await this.relativeLowers(chainId);
    if (lowers.length === 1) return { type: "dir", path: join(this.dir, lowers[0] as string) };
    return { type: "overlay", options: { lowers, cwd: this.dir, readOnly: true } };
  }

  private async relativeLowers(chainId: Digest): Promise<string[]> {
    return (await this.meta(chainId)).lowers.map((n) => `${n}/fs`);
  }

  private async emptyLower(): Promise<string> {
    await mkdir(join(this.dir, "empty"), { recursive: true });
    return "empty";
  }

  private chainLink(chainId: Digest): string {
    return join(this.chainsDir, digestHex(chainId));
  }

  private async meta(chainId: Digest): Promise<SnapshotMeta> {
    const m = await this.tryMeta(chainId);
    if (m === undefined) throw new RuntimeFailure(`snapshot ${chainId} does not exist`);
    return m;
  }

  private async tryMeta(chainId: Digest): Promise<SnapshotMeta | undefined> {
    const cached = this.metaCache.get(chainId);
    if (cached) return cached;
    let target: string;
    try {
      target = await readlink(this.chainLink(chainId));
    } catch (e) {
      if (errnoCode(e) === "ENOENT") return undefined;
      throw e;
    }
    const meta = await this.readMetaFile(join(this.chainsDir, target, "meta.json"));
    if (meta === undefined) return undefined;
    this.metaCache.set(chainId, meta);
    return meta;
  }

  private async readMetaFile(path: string): Promise<SnapshotMeta | undefined> {
    try {
      return JSON.parse(await readFile(path, "utf8")) as SnapshotMeta;
    } catch (e) {
      if (errnoCode(e) === "ENOENT") return undefined;
      throw e;
    }
  }

  private async firstFreeId(): Promise<number> {
    if (this.nextId > 0) return this.nextId;
    let max = 0;
    for (const name of await readdir(this.dir)) {
      if (/^\d+$/.test(name)) max = Math.max(max, Number.parseInt(name, 10));
    }
    return max + 1;
  }
}
