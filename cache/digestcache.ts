import { createReadStream, constants, type BigIntStats } from "node:fs";
import { open, readFile, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { LruMap } from "./lru.js";
import { errnoCode } from "../common/errors.js";
import { atomicWriteFile } from "../common/fsutil.js";
import { withFileLock } from "../common/lock.js";
import { newHash } from "../common/digest.js";

const FILE_NAME = "digests.json";
const FORMAT_VERSION = 1;
const DEFAULT_MAX_ENTRIES = 500_000;
/**
 * A file changed within the same clock tick as our read could keep the same stat; entries whose
 * ctime is this close to the read are not remembered (git's "racy clean" problem).
 */
const DEFAULT_RACY_MARGIN_MS = 50;

export interface DigestCacheOptions {
  /** At most this many files are remembered (least recently used go first). */
  maxEntries?: number;
  /** Files whose ctime is within this many ms before the read are not remembered. */
  racyMarginMs?: number;
}

interface StoredDigests {
  version: number;
  /** [statKey, sha256 hex of the bytes], least recently used first. */
  entries: Array<[string, string]>;
}

/** The identity of a file's contents as far as stat can tell: never its path. */
export function statKey(st: BigIntStats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/**
 * Content hashes of files remembered by (dev, ino, size, mtime ns, ctime ns), persisted in one
 * JSON file under the cache folder. Loaded once; save() merges with whatever another build wrote
 * meanwhile (under a lock) and replaces the file atomically, so concurrent builds never corrupt it.
 */
export class FileDigestCache {
  /** How many files had their bytes read (a fully warm cache reads none). */
  contentReads = 0;
  private dirty = new Map<string, string>();

  private readonly entries: LruMap<string, string>;
  private readonly racyMarginNs: bigint;

  private constructor(
    private readonly file: string | undefined,
    opts: DigestCacheOptions,
  ) {
    this.entries = new LruMap(opts.maxEntries ?? DEFAULT_MAX_ENTRIES);
    this.racyMarginNs = BigInt(opts.racyMarginMs ?? DEFAULT_RACY_MARGIN_MS) * 1_000_000n;
  }

  /** A cache that lives only in memory (nothing is persisted). */
  static inMemory(opts: DigestCacheOptions = {}): FileDigestCache {
    return new FileDigestCache(undefined, opts);
  }

  /** Loads `<cacheDir>/digests.json` (a missing or damaged file is an empty cache). */
  static async load(cacheDir: string, opts: DigestCacheOptions = {}): Promise<FileDigestCache> {
    const cache = new FileDigestCache(join(cacheDir, FILE_NAME), opts);
    for (const [k, v] of await readStored(join(cacheDir, FILE_NAME))) cache.entries.set(k, v);
    return cache;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The remembered hash for this exact stat, without touching the file. */
  knownHash(st: BigIntStats): string | undefined {
    return this.entries.get(statKey(st));
  }

  /**
   * The sha256 hex of a regular file's bytes, from the cache when its stat is unchanged. With the
   * lstat the caller already has, a known file is not even opened.
   */
  async contentHash(path: string, known?: BigIntStats): Promise<string> {
    if (known !== undefined) {
      const hit = this.entries.get(statKey(known));
      if (hit !== undefined) return hit;
    }
    const readStartNs = BigInt(Date.now()) * 1_000_000n;
    // O_NOFOLLOW: the walk saw a regular file; a symlink swapped in meanwhile must not be followed.
    const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const before = await fh.stat({ bigint: true });
      const key = statKey(before);
      const hit = this.entries.get(key);
      if (hit !== undefined) return hit;
      this.contentReads++;
      const hex = await hashOpenFile(fh, before.size);
      const after = await fh.stat({ bigint: true });
      // Only remember what is certainly the content that belongs to this stat.
      if (statKey(after) === key && before.ctimeNs < readStartNs - this.racyMarginNs) {
        this.entries.set(key, hex);
        this.dirty.set(key, hex);
      }
      return hex;
    } finally {
      await fh.close();
    }
  }

  /** Writes new entries back, merged with the file's current contents. No-op when nothing is new. */
  async save(): Promise<void> {
    if (this.file === undefined || this.dirty.size === 0) return;
    const file = this.file;
    await withFileLock(`${file}.lock`, async () => {
      // Merge: entries another build saved since we loaded stay, ours are the most recent.
      for (const [k, v] of await readStored(file)) {
        if (!this.entries.has(k)) this.entries.set(k, v);
      }
      for (const [k, v] of this.dirty) this.entries.set(k, v);
      const list: Array<[string, string]> = [];
      // entries(): least recently used first, so reloading preserves the recency order.
      for (const [k, v] of this.entries.entries()) list.push([k, v]);
      const stored: StoredDigests = { version: FORMAT_VERSION, entries: list };
      await atomicWriteFile(file, JSON.stringify(stored));
    });
    this.dirty.clear();
  }
}

/** Small files in one read (most of a source tree), larger ones streamed. */
const SMALL_FILE = 256 * 1024;

async function hashOpenFile(fh: FileHandle, size: bigint): Promise<string> {
  const h = newHash();
  if (size < BigInt(SMALL_FILE)) {
    const buf = Buffer.allocUnsafe(Number(size) + 1); // one spare byte tells that it grew
    let total = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, total, buf.length - total, total);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total === buf.length) {
        // Grew while we read: hash what we have and stream the rest.
        h.update(buf);
        const rest = createReadStream("", { fd: fh.fd, autoClose: false, start: total });
        for await (const chunk of rest) h.update(chunk as Buffer);
        return h.digest("hex");
      }
    }
    return h.update(buf.subarray(0, total)).digest("hex");
  }
  const stream = createReadStream("", { fd: fh.fd, autoClose: false, start: 0 });
  for await (const chunk of stream) h.update(chunk as Buffer);
  return h.digest("hex");
}

async function readStored(file: string): Promise<Array<[string, string]>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return [];
    throw e;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    // Written atomically, so this is a foreign or hand-edited file: the cache is only an
    // optimisation, start afresh rather than fail the build.
    if (e instanceof SyntaxError) return [];
    throw e;
  }
  if (!isStored(parsed) || parsed.version !== FORMAT_VERSION) return [];
  return parsed.entries;
}

function isStored(v: unknown): v is StoredDigests {
  if (typeof v !== "object" || v === null) return false;
  const o = v as { version?: unknown; entries?: unknown };
  return (
    typeof o.version === "number" &&
    Array.isArray(o.entries) &&
    o.entries.every(
      (e: unknown) => Array.isArray(e) && e.length === 2 && typeof e[0] === "string" && typeof e[1] === "string",
    )
  );
}
