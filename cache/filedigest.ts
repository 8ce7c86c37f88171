import { readlink } from "node:fs/promises";
import { lstatSync, readdirSync, type BigIntStats } from "node:fs";
import { posix } from "node:path";
import { ContextError, errnoCode } from "../common/errors.js";
import { sha256, type Digest } from "../common/digest.js";
import { resolveInsideRoot } from "../common/rootpath.js";
import { FileDigestCache } from "./digestcache.js";
import { normalizeRel } from "./context.js";

export type FileType = "file" | "dir" | "symlink" | "fifo" | "socket" | "char" | "block";

/**
 * One path of a step's inputs. `digest` covers type, mode, link target and bytes (for a folder:
 * its entries, recursively, but not its own mode, as BuildKit) but not the path itself, so that a
 * rename is recognisable; the aggregate digest covers the paths.
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
    const rel = normalizeRel(given); // `..` cannot climb above root, as in BuildKit
    if (rel !== "" && !walker.keeps(rel)) continue; // ignored: as if it did not exist
    const top = await walker.entry(rel, true);
    if (top === undefined) throw new ContextError(given, `${given}: not found in build context`);
    parts.push(`${rel}\0${top.digest}`);
    if (top.type === "symlink") {
      const target = normalizeRel(await resolveInsideRoot(root, rel, true));
      const resolved = target === rel ? undefined : await walker.entry(target, true);
      parts.push(`-> ${target}\0${resolved?.digest ?? "missing"}`);
    }
  }
  const files = [...walker.seen.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { digest: sha256(parts.join("\n")), files };
}

interface NamedDigest {
  name: string;
  digest: Digest;
}

class Walker {
  readonly seen = new Map<string, FileDigestEntry>();
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
      digest = sha256(`dir\0` + children.map((c) => `${c.name}\0${c.digest}\0`).join(""));
    } else if (type === "file") {
      const hex = this.cache.knownHash(st) ?? (await this.limited(() => this.cache.contentHash(abs, st)));
      digest = sha256(`file\0${mode.toString(8)}\0${hex}`);
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

  private async children(rel: string, abs: string): Promise<Array<{ name: string; digest: Digest }>> {
    const dirents = readdirSync(abs, { withFileTypes: true }).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
    const results = await Promise.all(
      dirents.map((dirent): NamedDigest | undefined | Promise<NamedDigest | undefined> => {
        const name = dirent.name;
        const childRel = rel === "" ? name : `${rel}/${name}`;
        const kept = this.keeps(childRel);
        // An ignored child is only worth a look if it is a folder an exception may reach into.
        if (!kept && (!dirent.isDirectory() || !this.mustDescend(childRel))) return undefined;
        const known = kept && dirent.isFile() ? this.knownFile(childRel) : undefined;
        if (known !== undefined) return { name, digest: known.digest };
        return this.entry(childRel, kept).then((e) => (e === undefined ? undefined : { name, digest: e.digest }));
      }),
    );
    return results.filter((r): r is NamedDigest => r !== undefined);
  }

  /**
   * A regular file whose content digest the cache knows, found with no promise in between (a warm walk
   * is almost only these); undefined otherwise, and entry() takes over.
   */
  private knownFile(rel: string): FileDigestEntry | undefined {
    const seen = this.seen.get(rel);
    if (seen !== undefined) return seen;
    const st = lstatIfExists(posix.join(this.root, rel));
    if (st === undefined || !st.isFile()) return undefined;
    const hex = this.cache.knownHash(st);
    if (hex === undefined) return undefined;
    const mode = Number(st.mode) & 0o7777;
    const entry: FileDigestEntry = { path: rel, digest: sha256(`file\0${mode.toString(8)}\0${hex}`), mode, type: "file" };
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
