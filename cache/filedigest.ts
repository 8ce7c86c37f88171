import { readlink } from "node:fs/promises";
import { constants, lstatSync, type BigIntStats } from "node:fs";
import { posix } from "node:path";
import { ContextError, errnoCode } from "../common/errors.js";
import { sha256, type Digest } from "../common/digest.js";
import { resolveInsideRoot } from "../common/rootpath.js";
import { FileDigestCache } from "./digestcache.js";
import { normalizeRel } from "./context.js";
import { native, type DirScan } from "../common/native.js";

const { S_IFMT, S_IFDIR, S_IFREG } = constants;

export type FileType = "file" | "dir" | "symlink" | "fifo" | "socket" | "char" | "block";

/**
 * One path of a step's inputs. For a regular file `digest` is the sha256 of its bytes (its mode is
 * `mode`); for anything else it covers type, mode, link target (for a folder: its entries, recursively,
 * with their modes, but not its own mode, as BuildKit). Never the path itself, so that a rename is
 * recognisable; the aggregate digest covers the paths.
 */
export interface FileDigestEntry {
  path: string;
  digest: Digest;
  /** Permission bits plus setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  type: FileType;
}

export interface InputsDigest {
  digest: Digest;
  /** Every path that counts, sorted by path. */
  files: FileDigestEntry[];
}

/**
 * Which paths exist for the build. A plain function must be asked about every path, so ignored
 * folders are still walked; a BuildContext also says which ignored folders cannot hold kept files.
 */
export type PathFilter =
  | ((relPath: string) => boolean)
  | { filter: (relPath: string) => boolean; mustDescend: (relDir: string) => boolean };

const PARALLEL_FILES = 32;
/** A folder with at least this many files to read has them hashed in one native call. */
const HASH_BATCH = 4;

/**
 * Content digest of the given paths (relative to root) and everything below them. Never depends
 * on mtime, uid or gid; ignored paths never matter. A top-level symlink also brings in what it
 * points to (resolved inside root), since COPY follows it.
 */
export async function digestPaths(
  root: string,
  relPaths: string[],
  filter?: PathFilter,
  cache: FileDigestCache = FileDigestCache.inMemory(),
): Promise<InputsDigest> {
  const walker = new Walker(root, filter, cache);
  const parts: string[] = [];
  for (const given of relPaths) {
    const named = normalizeRel(given); // `..` cannot climb above root, as in BuildKit
    // Symlinks on the way are followed inside root (`/sub -> /out/sub` in a stage), as COPY follows them.
    const rel = named.includes("/") ? posix.join(normalizeRel(await resolveInsideRoot(root, posix.dirname(named), true)), posix.basename(named)) : named;
    if (rel !== "" && !walker.keeps(rel)) continue; // ignored: as if it did not exist
    const top = await walker.entry(rel, true);
    if (top === undefined) throw new ContextError(given, `${given}: not found in build context`);
    parts.push(`${rel}\0${entryToken(top)}`);
    if (top.type === "symlink") {
      const target = normalizeRel(await resolveInsideRoot(root, rel, true));
      const resolved = target === rel ? undefined : await walker.entry(target, true);
      parts.push(`-> ${target}\0${resolved === undefined ? "missing" : entryToken(resolved)}`);
    }
  }
  const files = [...walker.seen.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { digest: sha256(parts.join("\n")), files };
}

/**
 * What an entry contributes to its folder's digest and the aggregate: a file's content digest with
 * its mode (a file's own digest is just its bytes, so a 20,000-file walk hashes no per-file strings).
 */
function entryToken(e: FileDigestEntry): string {
  return e.type === "file" ? `file\0${e.mode.toString(8)}\0${e.digest}` : e.digest;
}

interface NamedToken {
  name: string;
  token: string;
}

class Walker {
  readonly seen = new Map<string, FileDigestEntry>();
  /** Folder scans started ahead of the walk (absolute path → scan). */
  private readonly scans = new Map<string, Promise<DirScan>>();
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly root: string,
    private readonly filter: PathFilter | undefined,
    private readonly cache: FileDigestCache,
  ) {}

  keeps(rel: string): boolean {
    if (this.filter === undefined) return true;
    return typeof this.filter === "function" ? this.filter(rel) : this.filter.filter(rel);
  }

  private mustDescend(rel: string): boolean {
    if (this.filter === undefined || typeof this.filter === "function") return true;
    return this.filter.mustDescend(rel);
  }

  /**
   * The entry for rel, or undefined if it does not exist, or (for an ignored folder) holds
   * nothing kept. `kept` says whether rel itself passed the filter.
   */
  async entry(rel: string, kept: boolean): Promise<FileDigestEntry | undefined> {
    const known = this.seen.get(rel);
    if (known !== undefined) return known;
    const abs = rel === "" ? this.root : posix.join(this.root, rel);
    const st = lstatIfExists(abs);
    if (st === undefined) return undefined;
    const type = fileType(st);
    const mode = Number(st.mode) & 0o7777;
    if (!kept && type !== "dir") return undefined;
    let digest: Digest;
    if (type === "dir") {
      const children = await this.children(rel, abs);
      if (!kept && children.length === 0) return undefined; // ignored folder with nothing re-included
      // A folder's own mode is left out: BuildKit (dockerd 26) keeps a COPY cached when only a
      // folder's mode changed, nested or not. Its entries, names and kinds all count.
      digest = sha256(`dir\0` + children.map((c) => `${c.name}\0${c.token}\0`).join(""));
    } else if (type === "file") {
      const hex = this.cache.knownHash(st) ?? (await this.limited(() => this.cache.contentHash(abs, st)));
      digest = `sha256:${hex}`;
    } else if (type === "symlink") {
      digest = sha256(`symlink\0${await readlink(abs)}`);
    } else if (type === "char" || type === "block") {
      digest = sha256(`${type}\0${mode.toString(8)}\0${st.rdev}`);
    } else {
      digest = sha256(`${type}\0${mode.toString(8)}`);
    }
    const entry: FileDigestEntry = { path: rel, digest, mode, type };
    this.seen.set(rel, entry);
    return entry;
  }

  /**
   * A folder's entries, by name. One native scan gives every entry's mode and stat key, so a warm
   * walk costs one call per folder rather than one lstat per file (common/native.ts); the subfolders'
   * scans are started before this folder's files are looked at, so they run on other threads meanwhile.
   * Files the digest cache knows are settled without a promise each.
   */
  private async children(rel: string, abs: string): Promise<NamedToken[]> {
    const scan = await this.scanOf(abs);
    const { names, modes, keys } = scan;
    const order = names.map((_, i) => i).sort((a, b) => {
      const x = names[a] as string;
      const y = names[b] as string;
      return x < y ? -1 : x > y ? 1 : 0;
    });
    const rels: string[] = [];
    const kept: boolean[] = [];
    for (const i of order) {
      const childRel = rel === "" ? (names[i] as string) : `${rel}/${names[i] as string}`;
      const keep = this.keeps(childRel);
      rels.push(childRel);
      kept.push(keep);
      if (((modes[i] as number) & S_IFMT) === S_IFDIR && (keep || this.mustDescend(childRel))) this.prefetch(`${abs}/${names[i] as string}`);
    }
    const results: Array<NamedToken | undefined> = [];
    const pending: Array<Promise<void>> = [];
    const unread: Array<{ at: number; name: string; rel: string; mode: number }> = [];
    order.forEach((i, at) => {
      const name = names[i] as string;
      const mode = modes[i] as number;
      const childRel = rels[at] as string;
      const keep = kept[at] as boolean;
      // An ignored child is only worth a look if it is a folder an exception may reach into.
      if (!keep && ((mode & S_IFMT) !== S_IFDIR || !this.mustDescend(childRel))) return;
      const known = keep ? this.knownFile(childRel, mode, keys[i] as string) : undefined;
      if (known !== undefined) {
        results[at] = { name, token: entryToken(known) };
        return;
      }
      if (keep && (mode & S_IFMT) === S_IFREG && !this.seen.has(childRel)) {
        unread.push({ at, name, rel: childRel, mode });
        return;
      }
      pending.push(this.entry(childRel, keep).then((e) => {
        if (e !== undefined) results[at] = { name, token: entryToken(e) };
      }));
    });
    const one = (f: (typeof unread)[number]): Promise<void> => this.entry(f.rel, true).then((e) => {
      if (e !== undefined) results[f.at] = { name: f.name, token: entryToken(e) };
    });
    if (unread.length < HASH_BATCH) pending.push(...unread.map(one));
    else {
      // one native call reads the folder's files (a cold 20,000-file walk: a promise chain per file was most of it)
      pending.push(this.cache.contentHashes(unread.map((f) => `${abs}/${f.name}`)).then((hexes) => Promise.all(unread.map((f, k) => {
        const hex = hexes[k];
        if (hex === undefined) return one(f); // vanished or changed kind since the scan: looked at again
        const entry: FileDigestEntry = { path: f.rel, digest: `sha256:${hex}`, mode: f.mode & 0o7777, type: "file" };
        this.seen.set(f.rel, entry);
        results[f.at] = { name: f.name, token: entryToken(entry) };
        return undefined;
      }))).then(() => undefined));
    }
    if (pending.length > 0) await Promise.all(pending);
    return results.filter((r): r is NamedToken => r !== undefined);
  }

  /** The scan of a folder: the one prefetched, or a new one. */
  private scanOf(abs: string): Promise<DirScan> {
    const started = this.scans.get(abs);
    if (started === undefined) return native().scanDir(abs);
    this.scans.delete(abs);
    return started;
  }

  private prefetch(abs: string): void {
    if (this.scans.has(abs)) return;
    const scan = native().scanDir(abs);
    // Observed here too: a folder the walk then does not enter (it changed meanwhile) must not leave
    // an unhandled rejection; the walker that awaits it still sees the failure.
    scan.catch(() => undefined);
    this.scans.set(abs, scan);
  }

  /**
   * A regular file whose content digest the cache knows under the scan's stat key, found with no
   * promise in between (a warm walk is almost only these); undefined otherwise, and entry() takes over.
   */
  private knownFile(rel: string, mode: number, key: string): FileDigestEntry | undefined {
    const seen = this.seen.get(rel);
    if (seen !== undefined) return seen;
    if (key === "") return undefined; // not a regular file
    const hex = this.cache.knownHashByKey(key);
    if (hex === undefined) return undefined;
    const perm = mode & 0o7777;
    const entry: FileDigestEntry = { path: rel, digest: `sha256:${hex}`, mode: perm, type: "file" };
    this.seen.set(rel, entry);
    return entry;
  }

  /** Bounds the number of files open or being stat'ed at once. */
  private async limited<T>(fn: () => Promise<T>): Promise<T> {
    while (this.active >= PARALLEL_FILES) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

/**
 * Metadata calls are synchronous on purpose: on a warm cache one takes microseconds, while its promise
 * form costs tens of microseconds of thread-pool round trip, which for a 20,000-file context was most
 * of a no-op rebuild. File contents are still read asynchronously (contentHash).
 */
function lstatIfExists(abs: string): BigIntStats | undefined {
  try {
    return lstatSync(abs, { bigint: true });
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw e;
  }
}

function fileType(st: BigIntStats): FileType {
  if (st.isFile()) return "file";
  if (st.isDirectory()) return "dir";
  if (st.isSymbolicLink()) return "symlink";
  if (st.isFIFO()) return "fifo";
  if (st.isSocket()) return "socket";
  if (st.isCharacterDevice()) return "char";
  return "block";
}
