// Pins, as containerd's leases: a process that uses things of the store (a build: its base images and
// the cache entries it hits; save, push, run: their image) records them first in a file of its own,
// `pins/<owner token>-<n>`, one `<kind> <digest>` line each, and the garbage collector's plan
// (cache/gc/plan.ts) counts them as reachable. A pin is added under the store's GC lock taken shared
// (unless the caller holds it already): a collection running then finishes first, and every later one
// sees the pin; the caller looks at what it pinned afterwards (pin, then look). The file names its
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

  /** lockHeld: the caller holds the GC lock shared for the lease's whole life (a build does). */
  constructor(private readonly paths: StorePaths, private readonly options: { lockHeld?: boolean } = {}) {
    this.file = join(pinsDir(paths), `${ownerToken()}-${++leases}`);
  }

  /** Pins digests: a collection running now finishes first; none after it removes them until end(). */
  async pin(kind: PinKind, digests: Iterable<Digest>): Promise<void> {
    const lines = [...digests].map((d) => `${kind} ${d}`).filter((l) => !this.pinned.has(l));
    if (lines.length === 0) return;
    const write = async (): Promise<void> => {
      mkdirSync(pinsDir(this.paths), { recursive: true });
      appendFileSync(this.file, lines.map((l) => `${l}\n`).join(""));
      for (const l of lines) this.pinned.add(l);
    };
    if (this.options.lockHeld === true) await write();
    else await withSharedLock(this.paths.gcLock, write);
  }

  end(): void {
    rmSync(this.file, { force: true });
  }
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
