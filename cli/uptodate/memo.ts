// The up-to-date memo: what a build that changed nothing relied on, so that the same command run again
// can tell, from a few stats and small reads, that it would change nothing again, and say so as that
// build said it, without loading the builder (cli/uptodate/replay.ts). A daemon keeps this in memory;
// tsbuild keeps it in the store (`cache/uptodate/`), one file per command line, written by the build
// (cli/uptodate/record.ts). This module is shared by both sides and must stay small: the replay
// bundle (dist/uptodate.cjs) is loaded before anything else on every start.
import { lstatSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { addonPathBeside } from "../../common/addonpath.js";
import { DEFAULT_ROOT } from "../../common/storepaths.js";

export const MEMO_VERSION = 1;

/**
 * One fact the build relied on, as it was when the memo was written:
 * - `stat`: a file's stat (device, inode, size, mtime and ctime in ns, mode; through links, as the build
 *   reads it) is the same: it changes when the file is written or replaced
 * - `absent`: nothing is at the path, or only a link to nothing (an ignore file that did not exist)
 * - `exists`: something is at the path (a blob, a snapshot)
 * - `bytes`: the file holds exactly this text (the store's index.json: which image each tag names)
 * - `head`: the file's first line is this text (a cache entry: its record, below, can be megabytes)
 * - `empty`: the folder is missing or empty (scratch, active snapshots, pins: nothing to sweep, no build running)
 * - `names`: the folder holds exactly these names (locks: none held, no prune running)
 */
export type Check =
  | { kind: "stat"; path: string; key: string }
  | { kind: "absent"; path: string }
  | { kind: "exists"; path: string }
  | { kind: "bytes"; path: string; text: string }
  | { kind: "head"; path: string; text: string }
  | { kind: "empty"; path: string }
  | { kind: "names"; path: string; names: string[] }
  | TreeCheck;

/**
 * The build context as the build could see it: each folder by its lstat key (statKeyOf), and in each
 * the visible regular files by name and file key (fileKeyOf). A folder's key moves when an entry is
 * added, removed or renamed in it, so links, ignored entries and new files show through their folder.
 */
export interface TreeCheck {
  kind: "tree";
  root: string;
  /** [folder relative to root ("" for root), its key, [name, file key] of its visible files]. */
  dirs: [string, string, [string, string][]][];
}

/** One folder's entries with their file keys (native/ scanDir: fstatat on libuv's thread pool). */
export type ScanDir = (path: string) => Promise<{ names: string[]; keys: string[] }>;

/** Past this many files, a tree is checked with ScanDir (where given) rather than an lstat each. */
const SCAN_FROM_FILES = 256;

export interface Memo {
  version: number;
  /** The command line, working folder, environment and tsbuild that ran (invocationKey). */
  invocation: string;
  checks: Check[];
  /** Cache entry files a hit marks used (cache/index.ts touch: their mtime is their last use). */
  touch: string[];
  /** What the build printed, in order: [1, text] on standard output, [2, text] on standard error. */
  output: [1 | 2, string][];
}

/** The store root a command line names (cli/main.ts rootOf: --root, else TSBUILD_ROOT, else the default). */
export function rootOfArgv(argv: readonly string[], env: NodeJS.ProcessEnv): string {
  let given: string | undefined;
  for (let i = 0; i < argv.length && given === undefined; i++) {
    const a = argv[i] as string;
    if (a === "--") break;
    if (a === "--root") given = argv[i + 1];
    else if (a.startsWith("--root=")) given = a.slice("--root=".length);
  }
  return resolve(given ?? env.TSBUILD_ROOT ?? DEFAULT_ROOT);
}

/**
 * A shell's own bookkeeping, which it changes between two commands typed the same (OLDPWD at every cd,
 * SHLVL in a nested shell) and which neither tsbuild nor what it starts for a build reads: left out of
 * the key, else the same build typed in another shell was never replayed.
 */
const SHELL_BOOKKEEPING = new Set([
  "_", "OLDPWD", "SHLVL", "PS1", "PS2", "PS3", "PS4", "PROMPT_COMMAND",
  "HISTFILE", "HISTSIZE", "HISTFILESIZE", "HISTCONTROL", "HISTIGNORE", "HISTTIMEFORMAT", "LS_COLORS",
]);

/** Everything outside the store that decides what the same command does: it must match exactly. */
export function invocationKey(argv: readonly string[], cwd: string, env: NodeJS.ProcessEnv, bundle: string, root: string): string {
  // `--build-arg SHLVL` (no value) takes it from the environment: then it counts
  const named = (k: string): boolean => argv.includes(k) || argv.includes(`--build-arg=${k}`);
  const vars = Object.keys(env).filter((k) => !SHELL_BOOKKEEPING.has(k) || named(k)).sort().map((k) => [k, env[k]]);
  const st = lstatSync(bundle, { bigint: true });
  // the addon beside the bundle (common/native.ts) and Node run it too
  const addon = statKey(addonPathBeside(bundle)) ?? "none";
  return JSON.stringify({ argv, cwd, root, env: vars, uid: process.getuid?.(), gid: process.getgid?.(), tsbuild: statKeyOf(st), addon, node: process.version });
}

/** The memo file of an invocation: named by a hash of it, holding it whole (compared exactly on read). */
export function memoPath(root: string, invocation: string): string {
  // two 32-bit FNV-1a lanes: a name, not a proof (the file holds the invocation and it is compared whole),
  // and no crypto to load at start
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < invocation.length; i++) {
    const c = invocation.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (a >>> 15);
  }
  const h = `${(a >>> 0).toString(16).padStart(8, "0")}${(b >>> 0).toString(16).padStart(8, "0")}`;
  return join(memoDir(root), `${h}.json`);
}

export function memoDir(root: string): string {
  return join(root, "cache", "uptodate");
}

interface StatLike {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  mode: bigint;
}

/** A regular file's key as native scanDir gives it (and the digest cache keeps it): mode changes move ctime. */
export function fileKeyOf(st: StatLike): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

export function statKeyOf(st: StatLike): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.mode}`;
}

/** The stat key of a path (of the entry itself with lstat, of what its links lead to with stat), or undefined when nothing is there. */
export function statKey(path: string, follow = false): string | undefined {
  const st = (follow ? statSync : lstatSync)(path, { bigint: true, throwIfNoEntry: false });
  return st === undefined ? undefined : statKeyOf(st);
}

/** A file's text, or undefined when it is not there. */
export function readIfThere(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    if (e instanceof Error && "code" in e && (e.code === "ENOENT" || e.code === "ENOTDIR" || e.code === "EISDIR")) return undefined;
    throw e;
  }
}

/** A folder's names, none when it is not there. */
export function namesIn(path: string): string[] {
  try {
    return readdirSync(path);
  } catch (e) {
    if (e instanceof Error && "code" in e && (e.code === "ENOENT" || e.code === "ENOTDIR")) return [];
    throw e;
  }
}

/** The first line of a file (at most its first 16 KiB: a cache entry's head is far shorter). */
export function firstLine(path: string): string | undefined {
  const text = readIfThere(path);
  if (text === undefined) return undefined;
  const nl = text.indexOf("\n");
  return nl < 0 ? text : text.slice(0, nl);
}

/** Whether the fact still holds. */
export async function holds(c: Check, scan?: ScanDir): Promise<boolean> {
  switch (c.kind) {
    case "tree":
      return treeHolds(c, scan);
    case "stat":
      return statKey(c.path, true) === c.key;
    case "absent":
      return statSync(c.path, { throwIfNoEntry: false }) === undefined;
    case "exists":
      return lstatSync(c.path, { throwIfNoEntry: false }) !== undefined;
    case "bytes":
      return readIfThere(c.path) === c.text;
    case "head":
      return firstLine(c.path) === c.text;
    case "empty":
      return namesIn(c.path).length === 0;
    case "names": {
      const names = namesIn(c.path).sort();
      return names.length === c.names.length && names.every((n, i) => n === c.names[i]);
    }
  }
}

export function isMemo(o: unknown): o is Memo {
  if (typeof o !== "object" || o === null) return false;
  const m = o as Partial<Memo>;
  return m.version === MEMO_VERSION && typeof m.invocation === "string" && Array.isArray(m.checks) && Array.isArray(m.touch) && Array.isArray(m.output);
}

async function treeHolds(c: TreeCheck, scan: ScanDir | undefined): Promise<boolean> {
  const dirPath = (rel: string): string => (rel === "" ? c.root : join(c.root, rel));
  // the root through a link (a context given as a link to a folder), the folders below as they are (a walk does not follow links)
  for (const [rel, key] of c.dirs) if (statKey(dirPath(rel), rel === "") !== key) return false;
  const files = c.dirs.reduce((n, d) => n + d[2].length, 0);
  if (scan === undefined || files < SCAN_FROM_FILES) {
    for (const [rel, , entries] of c.dirs) {
      for (const [name, key] of entries) {
        const st = lstatSync(join(dirPath(rel), name), { bigint: true, throwIfNoEntry: false });
        if (st === undefined || fileKeyOf(st) !== key) return false;
      }
    }
    return true;
  }
  // the folders are unchanged (above), so each holds the names it held: only the files' keys can differ
  const results = await Promise.all(c.dirs.map(async ([rel, , entries]) => {
    if (entries.length === 0) return true;
    const found = await scan(dirPath(rel));
    const byName = new Map<string, string>();
    found.names.forEach((n, i) => byName.set(n, found.keys[i] as string));
    return entries.every(([name, key]) => byName.get(name) === key);
  }));
  return results.every(Boolean);
}
