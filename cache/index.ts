import { closeSync, fstatSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { readFile, readdir, rm, stat, utimes } from "node:fs/promises";
import { join } from "node:path";
import { RuntimeFailure, errnoCode } from "../common/errors.js";
import { atomicWriteFile } from "../common/fsutil.js";
import { digestHex, isDigest, sha256, type Digest } from "../common/digest.js";
import { stepKey, type StepRecord } from "./key.js";
import { contextDigestDir } from "./digestcache.js";

/** What a cache hit restores: the snapshot (by chain id) and the layer it committed. */
export interface CacheEntry {
  key: Digest;
  chainId: Digest;
  diffId?: Digest;
  layerSize?: number;
  /** Milliseconds since the epoch. */
  createdAt: number;
  /** Milliseconds since the epoch; kept as the entry file's mtime so touch() is one utimes call. */
  lastUsed: number;
  durationMs: number;
  record: StepRecord;
}

/**
 * The persistent cache index: one file per key under `<cache>/keys/`, and the last record of each
 * Dockerfile step under `<cache>/steps/` for explanations. Every write is atomic (temporary file +
 * rename), so concurrent builds and kills leave only whole files; the last writer wins.
 *
 * Each file is two JSON lines: a small head (the entry without its record; the step's key), then the
 * record, which for a COPY of a large context lists every file (2 MB for 20,000 files). A cache hit
 * reads only the head (the file's first 16 KiB): the record is read and parsed when something asks
 * for it (an export, `cache ls`, a miss explanation). A one-line file (written before this layout) is
 * read whole.
 */
export class CacheIndex {
  private readonly keysDir: string;
  private readonly stepsDir: string;

  /**
   * `scratchDir`: the store's tmp folder, where a build's entry and step files are written before they
   * are renamed into place (a build killed meanwhile leaves its half-written file to the next sweep).
   */
  constructor(private readonly cacheDir: string, private readonly scratchDir?: string) {
    this.keysDir = join(cacheDir, "keys");
    this.stepsDir = join(cacheDir, "steps");
  }

  private keyFile(key: Digest): string {
    return entryFile(this.cacheDir, key);
  }

  /**
   * The entry under key. Its record is read only when asked for: a build asks for the records of the
   * entries it has pinned (common/pins.ts), so no prune removes the file in between.
   */
  async get(key: Digest): Promise<CacheEntry | undefined> {
    return this.read(key, false);
  }

  /** `whole`: the record read at once, for callers that may remove the entry before they use it. */
  private async read(key: Digest, whole: boolean): Promise<CacheEntry | undefined> {
    const file = this.keyFile(key);
    const read = whole ? readWhole(file) : readHead(file);
    if (read === undefined) return undefined;
    const entry = parseEntry(read, file);
    if (entry === undefined || entry.key !== key) return undefined;
    entry.lastUsed = Math.max(entry.lastUsed, read.mtimeMs);
    return entry;
  }

  async put(key: Digest, entry: CacheEntry): Promise<void> {
    if (entry.key !== key) throw new TypeError(`cache entry for ${entry.key} put under ${key}`);
    const { record, ...head } = entry;
    await atomicWriteFile(this.keyFile(key), `${JSON.stringify(head)}\n${JSON.stringify(record)}\n`, 0o644, this.scratchDir);
    await this.touch(key, new Date(entry.lastUsed)); // the file's mtime is the lastUsed that counts
  }

  /** Marks an entry used now (for least-recently-used pruning). No-op if it is gone. */
  async touch(key: Digest, now: Date = new Date()): Promise<void> {
    try {
      await utimes(this.keyFile(key), now, now);
    } catch (e) {
      if (errnoCode(e) !== "ENOENT") throw e;
    }
  }

  async remove(key: Digest): Promise<void> {
    await rm(this.keyFile(key), { force: true });
  }

  async list(): Promise<CacheEntry[]> {
    let names: string[];
    try {
      names = await readdir(this.keysDir);
    } catch (e) {
      if (errnoCode(e) === "ENOENT") return [];
      throw e;
    }
    const entries: CacheEntry[] = [];
    for (const name of names) {
      const m = /^([a-f0-9]{64})\.json$/.exec(name); // skips temporary files of writes in flight
      if (m === null) continue;
      // read whole: prune and system check remove entries they listed, then report their records
      const entry = await this.read(`sha256:${m[1]}`, true);
      if (entry !== undefined) entries.push(entry);
    }
    return entries;
  }

  /** Remembers the record of the last build of a Dockerfile step (stepId: stable across builds). */
  async rememberStep(stepId: string, rec: StepRecord): Promise<void> {
    await atomicWriteFile(this.stepFile(stepId), `${JSON.stringify({ stepId, key: stepKey(rec) })}\n${JSON.stringify(rec)}\n`, 0o644, this.scratchDir);
  }

  /** The key of the step's last build, without parsing its record (undefined: none, or an old file). */
  async previousStepKey(stepId: string): Promise<Digest | undefined> {
    const o = parseJson(readHead(this.stepFile(stepId))?.head);
    if (typeof o !== "object" || o === null) return undefined;
    const { stepId: id, key } = o as { stepId?: unknown; key?: unknown };
    return id === stepId && typeof key === "string" && isDigest(key) ? key : undefined;
  }

  async previousStep(stepId: string): Promise<StepRecord | undefined> {
    const [head, rest] = splitHead(await readIfExists(this.stepFile(stepId)));
    const o = parseJson(head);
    if (typeof o !== "object" || o === null || (o as { stepId?: unknown }).stepId !== stepId) return undefined;
    const record = rest === undefined ? (o as { record?: unknown }).record : parseJson(rest);
    return isRecord(record) ? record : undefined;
  }

  /**
   * Removes temporary files left by writers that were killed mid-write (older than maxAgeMs, so
   * that a write in flight in another build is not disturbed), here and in the digest cache.
   */
  async sweepTemporaries(maxAgeMs = 3_600_000, now = Date.now()): Promise<number> {
    let removed = 0;
    for (const dir of [this.keysDir, this.stepsDir, this.cacheDir, contextDigestDir(this.cacheDir)]) {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch (e) {
        if (errnoCode(e) === "ENOENT") continue;
        throw e;
      }
      for (const name of names) {
        if (!/\.tmp-\d+(?:\.\d+)?-[0-9a-f]+$/.test(name)) continue;
        const st = await statIfExists(join(dir, name));
        if (st === undefined || now - st.mtimeMs <= maxAgeMs) continue;
        await rm(join(dir, name), { force: true });
        removed++;
      }
    }
    return removed;
  }

  private stepFile(stepId: string): string {
    return stepRecordFile(this.cacheDir, stepId);
  }
}

/** Where the entry of `key` lies in the cache folder (the up-to-date memo checks these files too). */
export function entryFile(cacheDir: string, key: Digest): string {
  if (!isDigest(key)) throw new TypeError(`not a cache key: ${key}`);
  return join(cacheDir, "keys", `${digestHex(key)}.json`);
}

/** Where the last-build record of step `stepId` lies in the cache folder. */
export function stepRecordFile(cacheDir: string, stepId: string): string {
  return join(cacheDir, "steps", `${digestHex(sha256(stepId))}.json`);
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, "utf8");
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return undefined;
    throw e;
  }
}

async function statIfExists(file: string): Promise<{ mtimeMs: number } | undefined> {
  try {
    return await stat(file);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return undefined;
    throw e;
  }
}

/** A file that is not JSON (only possible if someone edited the store) counts as no entry. */
function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    if (e instanceof SyntaxError) return undefined;
    throw e;
  }
}

/** The head line and the rest of a two-line file; a one-line (older) file is all head. */
function splitHead(text: string | undefined): [string | undefined, string | undefined] {
  if (text === undefined) return [undefined, undefined];
  const newline = text.indexOf("\n");
  if (newline < 0 || newline === text.length - 1) return [text, undefined];
  return [text.slice(0, newline), text.slice(newline + 1)];
}

/** How much of a file is read for its head line; a head not ended within it is read with the rest. */
const HEAD_READ = 16 * 1024;

interface HeadRead {
  head: string;
  /** Reads the record line when asked; undefined for a one-line file. */
  rest: (() => string | undefined) | undefined;
  mtimeMs: number;
}

/**
 * The head line of a two-line file without the record behind it (synchronous: a few small calls,
 * several times a step, cost less than thread-pool round trips). Undefined when there is no file.
 */
function readHead(file: string): HeadRead | undefined {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return undefined;
    throw e;
  }
  try {
    const { mtimeMs, size } = fstatSync(fd);
    const buf = Buffer.allocUnsafe(Math.min(HEAD_READ, size));
    const n = readSync(fd, buf, 0, buf.length, 0);
    const newline = buf.subarray(0, n).indexOf(10);
    if (newline >= 0) {
      const head = buf.toString("utf8", 0, newline);
      return { head, rest: newline + 1 < size ? () => splitHead(readFileSync(file, "utf8"))[1] : undefined, mtimeMs };
    }
    return headReadOf(readFileSync(file, "utf8"), mtimeMs);
  } finally {
    closeSync(fd);
  }
}

/** The whole file, split into its head and record lines. */
function readWhole(file: string): HeadRead | undefined {
  let text: string;
  let mtimeMs: number;
  try {
    text = readFileSync(file, "utf8");
    mtimeMs = statSync(file).mtimeMs;
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return undefined; // never there, or removed meanwhile
    throw e;
  }
  return headReadOf(text, mtimeMs);
}

function headReadOf(text: string, mtimeMs: number): HeadRead | undefined {
  const [head, rest] = splitHead(text);
  return head === undefined ? undefined : { head, rest: rest === undefined ? undefined : () => rest, mtimeMs };
}

function parseEntry(read: HeadRead, file: string): CacheEntry | undefined {
  const { head, rest } = read;
  const v = parseJson(head);
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as Partial<Record<keyof CacheEntry, unknown>>;
  const ok =
    typeof o.key === "string" &&
    isDigest(o.key) &&
    typeof o.chainId === "string" &&
    isDigest(o.chainId) &&
    typeof o.createdAt === "number" &&
    typeof o.lastUsed === "number" &&
    typeof o.durationMs === "number" &&
    (rest !== undefined || isRecord(o.record));
  if (!ok) return undefined;
  const entry = v as CacheEntry;
  if (rest === undefined) return entry;
  let record: StepRecord | undefined;
  Object.defineProperty(entry, "record", {
    enumerable: true,
    configurable: true,
    get(): StepRecord {
      if (record !== undefined) return record;
      // the file of a key always holds the same record (the key is its hash), whoever rewrote it since
      const parsed = parseJson(readRest(rest, file));
      if (!isRecord(parsed)) throw new RuntimeFailure(`cache entry ${file} is damaged (its record does not parse): remove it or run \`tsbuild cache prune --all\``);
      return (record = parsed);
    },
    set(value: StepRecord) {
      record = value;
    },
  });
  return entry;
}

function readRest(rest: () => string | undefined, file: string): string | undefined {
  try {
    return rest();
  } catch (e) {
    if (errnoCode(e) === "ENOENT") throw new RuntimeFailure(`cache entry ${file} was removed while the build read it (a prune?): build again`);
    throw e;
  }
}

function isRecord(v: unknown): v is StepRecord {
  if (typeof v !== "object" || v === null) return false;
  const o = v as Partial<Record<keyof StepRecord, unknown>>;
  return (
    typeof o.parentKey === "string" &&
    typeof o.instruction === "string" &&
    typeof o.text === "string" &&
    typeof o.definition === "object" &&
    o.definition !== null &&
    typeof o.buildArgs === "object" &&
    o.buildArgs !== null
  );
}
