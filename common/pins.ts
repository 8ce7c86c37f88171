// Pins, as containerd's leases: a process that uses things of the store (a build: its bases, the cache
// entries it hits, the layers and snapshots it makes, the image it writes; run: its image until the
// container's record holds it) records them first in a file of its own, `pins/<owner token>-<n>`, one
// `<kind> <digest>` line each, and the garbage collector's plan (cache/gc/plan.ts) counts them as
// reachable. A pin is added under the store's GC lock taken shared: a collection running then
// finishes first, and every later one sees the pin; the caller looks at what it pinned afterwards
// (pin, then look). The file names its
// owner (pid and start time, owner.ts): once that process is gone, its pins hold nothing, and the next
// collection or sweep removes the file. The file is this module's; the rooms pin by digest.
import { appendFileSync, mkdirSync, rmSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { isDigest, type Digest } from "./digest.js";
import { errnoCode } from "./errors.js";
import { listDirIfExists } from "./fsutil.js";
import { withSharedLock } from "./lock.js";
import { ownerAlive, ownerToken, parseOwnerToken } from "./owner.js";
import type { StorePaths } from "./storepaths.js";

/** An image manifest (its config, layers and their chains), a cache entry (by key), a snapshot chain, a blob. */
export type PinKind = "manifest" | "entry" | "chain" | "blob";

export interface Pins {
  manifests: Set<Digest>;
  entries: Set<Digest>;
  chains: Set<Digest>;
  blobs: Set<Digest>;
  /** Pin files of processes that are gone. */
  dead: string[];
}

const KIND_SET: Record<PinKind, keyof Omit<Pins, "dead">> = { manifest: "manifests", entry: "entries", chain: "chains", blob: "blobs" };

export function pinsDir(paths: StorePaths): string {
  return join(paths.root, "pins");
}

let leases = 0;

/** This process's pins: `end()` drops them (a killed process's are dropped by the next collection). */
export class Lease {
  private readonly file: string;
  private readonly pinned = new Set<string>();
  /** Shared holds of the GC lock in progress (hold() is re-entrant: one marker for all of them). */
  private holders = 0;
  private held: Promise<void> | undefined;
  private release: (() => void) | undefined;

  constructor(private readonly paths: StorePaths) {
    this.file = join(pinsDir(paths), `${ownerToken()}-${++leases}`);
  }

  /**
   * Runs fn holding the GC lock shared (a collection running now finishes first; one that starts
   * waits for fn): around making something a collection could take before it is pinned (a blob
   * written, then pinned) or resolving a name and pinning what it names. Re-entrant, and concurrent
   * holds of this process share one marker.
   */
  async hold<T>(fn: () => Promise<T>): Promise<T> {
    if (this.holders++ === 0) this.held = this.takeShared();
    try {
      await this.held;
      return await fn();
    } finally {
      if (--this.holders === 0) {
        this.release?.();
        this.release = undefined;
      }
    }
  }

  /** Pins digests: a collection running now finishes first; none after it removes them until end(). */
  async pin(kind: PinKind, digests: Iterable<Digest>): Promise<void> {
    const lines = [...digests].map((d) => `${kind} ${d}`).filter((l) => !this.pinned.has(l));
    if (lines.length === 0) return;
    await this.hold(async () => {
      mkdirSync(pinsDir(this.paths), { recursive: true });
      appendFileSync(this.file, lines.map((l) => `${l}\n`).join(""));
      for (const l of lines) this.pinned.add(l);
    });
  }

  end(): void {
    rmSync(this.file, { force: true });
  }

  /** Takes the lock shared and keeps it until `release` is called. */
  private takeShared(): Promise<void> {
    return new Promise<void>((ready, fail) => {
      withSharedLock(this.paths.gcLock, () => new Promise<void>((done) => {
        this.release = done;
        ready();
      })).catch(fail);
    });
  }
}

const open = new Map<string, { lease: Lease; users: number }>();

/**
 * Runs fn with this process's lease on the store (one per store, shared by concurrent users of this
 * process, ended after the last): what fn's callees pin through `currentLease` is kept by any
 * collection until then.
 */
export async function withLease<T>(paths: StorePaths, fn: (lease: Lease) => Promise<T>): Promise<T> {
  let entry = open.get(paths.root);
  if (entry === undefined) {
    entry = { lease: new Lease(paths), users: 0 };
    open.set(paths.root, entry);
  }
  entry.users++;
  try {
    return await fn(entry.lease);
  } finally {
    if (--entry.users === 0) {
      open.delete(paths.root);
      entry.lease.end();
    }
  }
}

/** The lease withLease opened for this store, if one is open. */
export function currentLease(paths: StorePaths): Lease | undefined {
  return open.get(paths.root)?.lease;
}

/** The pins of live processes, and the files of dead ones. */
export async function readPins(paths: StorePaths): Promise<Pins> {
  const pins: Pins = { manifests: new Set(), entries: new Set(), chains: new Set(), blobs: new Set(), dead: [] };
  const dir = pinsDir(paths);
  for (const name of await listDirIfExists(dir)) {
    const owner = parseOwnerToken(name.replace(/-\d+$/, ""));
    const file = join(dir, name);
    if (owner === undefined || !ownerAlive(owner, file)) {
      pins.dead.push(name);
      continue;
    }
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (e) {
      if (errnoCode(e) === "ENOENT") continue; // ended meanwhile
      throw e;
    }
    for (const line of text.split("\n")) {
      const [kind, digest] = line.split(" ");
      const set = kind !== undefined && Object.hasOwn(KIND_SET, kind) ? KIND_SET[kind as PinKind] : undefined;
      if (set !== undefined && digest !== undefined && isDigest(digest)) pins[set].add(digest);
    }
  }
  return pins;
}

/** Names of the pin files of processes that are gone (the sweep and system check remove them). */
export async function deadPinFiles(paths: StorePaths): Promise<string[]> {
  return (await listDirIfExists(pinsDir(paths))).filter((name) => {
    const owner = parseOwnerToken(name.replace(/-\d+$/, ""));
    return owner === undefined || !ownerAlive(owner, join(pinsDir(paths), name));
  });
}

/** Removes a dead process's pin file (by its name in the pins folder). */
export async function removePinFile(paths: StorePaths, name: string): Promise<void> {
  await rm(join(pinsDir(paths), name), { force: true });
}
