import { createReadStream, constants, type BigIntStats } from "node:fs";
import { appendFile, open, readFile, readdir, rm, stat, type FileHandle } from "node:fs/promises";
import { dirname, join } from "node:path";
import { errnoCode } from "../common/errors.js";
import { atomicWriteFile } from "../common/fsutil.js";
import { withFileLock } from "../common/lock.js";
import { digestHex, newHash, sha256 } from "../common/digest.js";
import { native } from "../common/native.js";

const FILE_NAME = "digests.txt";
/**
 * One file per build context (by its path) in this folder: a build loads only what its own context's
 * files were, so a store that has remembered 200,000 files of one project does not make every build
 * of another pay for reading them (one shared file took 518 ms to load at 220,000 entries). A context
 * reached at two paths is remembered twice; at most MAX_CONTEXT_FILES files are kept, least recently
 * written first out (remote contexts unpack to a new folder each build: their files go first).
 */
const CONTEXTS_DIR = "digests";
const MAX_CONTEXT_FILES = 32;
/** The first line of the file; anything else is a foreign or older file, read as empty. */
const HEADER = "tsbuild file digests v2";
/** The JSON file of version 1 (parsing it was a tenth of a 20,000-file no-op rebuild): removed at save. */
const OLD_FILE_NAME = "digests.json";
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
  /** The store's tmp folder: a save is written there and renamed into place (common/fsutil.ts). */
  scratchDir?: string;
}


/** The identity of a file's contents as far as stat can tell: never its path. */
export function statKey(st: BigIntStats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/**
 * Content hashes of files remembered by (dev, ino, size, mtime ns, ctime ns), persisted in one text
 * file under the cache folder, a `statKey hex` line per file, least recently used first. Loaded once;
 * save() merges with whatever another build wrote meanwhile (under a lock) and replaces the file
 * atomically, so concurrent builds never corrupt it. A lookup does not reorder the map (that was a
 * delete and an insert per file of a warm walk): the keys it found are moved to the recent end at save.
 */
export class FileDigestCache {
  /** How many files had their bytes read (a fully warm cache reads none). */
  contentReads = 0;
  private dirty = new Map<string, string>();
  /** Keys looked up and found since the load (their recency is refreshed at save). */
  private used: string[] = [];

  private entries = new Map<string, string>();
  /** Entry lines in the file as loaded or last written by us (superseded ones included). */
  private storedLines = 0;
  /** The file is one build context's (contextDigestFile): a save also bounds their number. */
  private ofContext = false;
  private readonly maxEntries: number;
  private readonly racyMarginNs: bigint;
  private readonly scratchDir: string | undefined;

  private constructor(
    private readonly file: string | undefined,
    opts: DigestCacheOptions,
  ) {
    this.maxEntries = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.racyMarginNs = BigInt(opts.racyMarginMs ?? DEFAULT_RACY_MARGIN_MS) * 1_000_000n;
    this.scratchDir = opts.scratchDir;
  }

  /** A cache that lives only in memory (nothing is persisted). */
  static inMemory(opts: DigestCacheOptions = {}): FileDigestCache {
    return new FileDigestCache(undefined, opts);
  }

  /**
   * Loads the file of the build context `context` (an absolute path), or without one
   * `<cacheDir>/digests.txt`; a missing or damaged file is an empty cache.
   */
  static async load(cacheDir: string, opts: DigestCacheOptions & { context?: string } = {}): Promise<FileDigestCache> {
    const file = opts.context === undefined ? join(cacheDir, FILE_NAME) : contextDigestFile(cacheDir, opts.context);
    const cache = new FileDigestCache(file, opts);
    cache.ofContext = opts.context !== undefined;
    const stored = await readStored(file);
    cache.entries = stored.entries;
    cache.storedLines = stored.lines;
    cache.trim();
    return cache;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The remembered hash for this exact stat, without touching the file. */
  knownHash(st: BigIntStats): string | undefined {
    return this.lookup(statKey(st));
  }

  /** knownHash by a stat key made elsewhere (common/native scanDir makes the same string). */
  knownHashByKey(key: string): string | undefined {
    return this.lookup(key);
  }

  private lookup(key: string): string | undefined {
    const hex = this.entries.get(key);
    if (hex !== undefined) this.used.push(key);
    return hex;
  }

  private remember(key: string, hex: string): void {
    this.entries.delete(key);
    this.entries.set(key, hex);
  }

  /** Drops the least recently used entries beyond the bound (at load and save; a build only adds). */
  private trim(): void {
    let excess = this.entries.size - this.maxEntries;
    if (excess <= 0) return;
    for (const key of this.entries.keys()) {
      if (excess-- <= 0) break;
      this.entries.delete(key);
    }
  }

  /**
   * The sha256 hex of a regular file's bytes, from the cache when its stat is unchanged. With the
   * lstat the caller already has, a known file is not even opened.
   */
  async contentHash(path: string, known?: BigIntStats): Promise<string> {
    if (known !== undefined) {
      const hit = this.lookup(statKey(known));
      if (hit !== undefined) return hit;
    }
    const readStartNs = BigInt(Date.now()) * 1_000_000n;
    // O_NOFOLLOW: the walk saw a regular file; a symlink swapped in meanwhile must not be followed.
    const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const before = await fh.stat({ bigint: true });
      const key = statKey(before);
      const hit = this.lookup(key);
      if (hit !== undefined) return hit;
      this.contentReads++;
      const hex = await hashOpenFile(fh, before.size);
      const after = await fh.stat({ bigint: true });
      // Only remember what is certainly the content that belongs to this stat.
      if (statKey(after) === key && before.ctimeNs < readStartNs - this.racyMarginNs) {
        this.remember(key, hex);
        this.dirty.set(key, hex);
      }
      return hex;
    } finally {
      await fh.close();
    }
  }

  /**
   * contentHash of many regular files in one native call (common/native.ts hashFiles, on the thread
   * pool), remembering under the same rules; undefined for a file it could not read (vanished, or not
   * a regular file any more), which the caller then looks at the usual way. Without the native sha256
   * (Node built without OpenSSL's exports), one contentHash per file.
   */
  async contentHashes(paths: string[]): Promise<Array<string | undefined>> {
    if (!native().sha256Available()) return Promise.all(paths.map((p) => this.contentHash(p)));
    const readStartNs = BigInt(Date.now()) * 1_000_000n;
    const { hex, keys, status } = await native().hashFiles(paths);
    return paths.map((_, i) => {
      const state = status[i] as number;
      if (state > 0) return undefined;
      const key = keys[i] as string;
      const hit = this.lookup(key);
      if (hit !== undefined) return hit;
      this.contentReads++;
      const value = hex[i] as string;
      const ctimeNs = BigInt(key.slice(key.lastIndexOf(":") + 1));
      if (state === 0 && ctimeNs < readStartNs - this.racyMarginNs) {
        this.remember(key, value);
        this.dirty.set(key, value);
      }
      return value;
    });
  }

  /**
   * Writes new entries back. Usually they are appended (a one-file edit of a 20,000-file context
   * used to rewrite 2.5 MB); when the file holds many superseded lines, or more entries than the
   * bound, it is rewritten instead: merged with what other builds wrote, the keys this build used
   * moved to the recent end, trimmed. No-op when nothing is new. Both happen under the file's lock.
   */
  async save(): Promise<void> {
    if (this.file === undefined || this.dirty.size === 0) return;
    const file = this.file;
    await withFileLock(`${file}.lock`, async () => {
      const fresh = [...this.dirty].map(([k, v]) => `${k} ${v}`);
      const lines = this.storedLines + fresh.length;
      if (this.storedLines > 0 && lines <= 2 * this.entries.size && this.entries.size <= this.maxEntries) {
        // Each append starts a new line: a line torn by a kill before it is skipped when read.
        await appendFile(file, `\n${fresh.join("\n")}\n`);
        this.storedLines = lines;
        return;
      }
      const stored = await readStored(file);
      const merged = stored.entries;
      for (const [k, v] of this.entries) if (!merged.has(k)) merged.set(k, v);
      for (const k of this.used) {
        const v = this.entries.get(k);
        if (v === undefined) continue;
        merged.delete(k);
        merged.set(k, v);
      }
      for (const [k, v] of this.dirty) {
        merged.delete(k);
        merged.set(k, v);
      }
      this.entries = merged;
      this.trim();
      const out = [HEADER];
      for (const [k, v] of this.entries) out.push(`${k} ${v}`);
      await atomicWriteFile(file, out.join("\n") + "\n", 0o644, this.scratchDir);
      this.storedLines = this.entries.size;
      await rm(join(dirname(file), OLD_FILE_NAME), { force: true });
    });
    if (this.ofContext) {
      await dropOldContextFiles(dirname(file), file);
      await rm(join(dirname(dirname(file)), FILE_NAME), { force: true }); // the one shared file of before
    }
    this.dirty.clear();
    this.used = [];
  }
}

/** The folder of the per-context files (cache/index.ts sweeps its temporaries). */
export function contextDigestDir(cacheDir: string): string {
  return join(cacheDir, CONTEXTS_DIR);
}

/** Where the digests of the build context at `context` (absolute) are kept. */
export function contextDigestFile(cacheDir: string, context: string): string {
  return join(contextDigestDir(cacheDir), `${digestHex(sha256(context)).slice(0, 32)}.txt`);
}

/** Keeps the MAX_CONTEXT_FILES most recently written context files (and `keep`); the rest are removed. */
async function dropOldContextFiles(dir: string, keep: string): Promise<void> {
  const names = (await readdir(dir)).filter((n) => /^[0-9a-f]{32}\.txt$/.test(n));
  if (names.length <= MAX_CONTEXT_FILES) return;
  const dated: Array<{ path: string; mtimeMs: number }> = [];
  for (const n of names) {
    const path = join(dir, n);
    try {
      dated.push({ path, mtimeMs: (await stat(path)).mtimeMs });
    } catch (e) {
      if (errnoCode(e) !== "ENOENT") throw e; // another build removed it meanwhile
    }
  }
  dated.sort((a, b) => b.mtimeMs - a.mtimeMs);
  for (const { path } of dated.slice(MAX_CONTEXT_FILES)) {
    if (path !== keep) await rm(path, { force: true });
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

/**
 * The stored entries, least recently used first (a key appended again moves to the end), and how many
 * entry lines the file holds; nothing for a missing or foreign file. A line that does not read as an
 * entry (torn by a kill during an append) is skipped.
 */
async function readStored(file: string): Promise<{ entries: Map<string, string>; lines: number }> {
  const entries = new Map<string, string>();
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return { entries, lines: 0 };
    throw e;
  }
  const lines = text.split("\n");
  if (lines[0] !== HEADER) return { entries, lines: 0 };
  let count = 0;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    const space = line.indexOf(" ");
    if (space <= 0 || line.length - space - 1 !== 64) continue;
    const key = line.slice(0, space);
    if (entries.has(key)) entries.delete(key);
    entries.set(key, line.slice(space + 1));
    count++;
  }
  return { entries, lines: count };
}
