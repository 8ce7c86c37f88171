// The native helpers (native/tsbuild_native.c, built by `make build`): mount/umount without spawning
// util-linux, a folder scan that stats every entry in one call, and extended attributes. See the C file for the why.
import { moduleFile } from "./modulefile.js";
import { addonPathBeside } from "./addonpath.js";
import { TsbuildError } from "./errors.js";

/** One folder's entries, in readdir order. */
export interface DirScan {
  names: string[];
  /** st_mode of each entry (type bits included). */
  modes: Uint32Array;
  /** For a regular file the stat key "dev:ino:size:mtimeNs:ctimeNs" (cache/digestcache statKey), else "". */
  keys: string[];
}

export interface NativeHelpers {
  /** mount(2); `cwd` (when not null) is the folder relative paths in `data` are resolved from. */
  mount(source: string, target: string, fsType: string, flags: number, data: string, cwd: string | null): void;
  /** umount2(2), on libuv's thread pool. */
  umount(target: string, flags: number): Promise<void>;
  /** The folder's entries with their stats, scanned on libuv's thread pool. */
  scanDir(path: string): Promise<DirScan>;
  /**
   * Copies regular files to new paths (never over an existing entry) with owner, mode and times: meta
   * holds uid, gid, mode, atime ms, mtime ms per file. With donors, a file is only copied if its donor
   * is an identical earlier copy (size, mode, owner, mtime; no xattrs on either), else NOT_REUSABLE;
   * a donor that is its target is only checked. Resolves to each file's errno (0: copied or matching).
   */
  copyFiles(sources: string[], targets: string[], meta: Float64Array, donors?: string[]): Promise<Int32Array>;
  /**
   * COPY's regular files into a folder it has just made (builder/copy/plainbatch.ts): each to a new file
   * (O_EXCL) with its xattrs (overlay's aside), then owner, mode and times as builder/copy/metadata.ts
   * sets them (meta: uid, gid, mode, atime ms, mtime ms each). Each file's errno (0: copied).
   */
  copyPlainFiles(sources: string[], targets: string[], meta: Float64Array): Promise<Int32Array>;
  /**
   * sha256 of each regular file's bytes (O_NOFOLLOW) with its stat key before the read (cache/digestcache.ts
   * statKey). status per file: 0 the stat did not change during the read, -1 it did, else the errno.
   */
  hashFiles(paths: string[]): Promise<{ hex: string[]; keys: string[]; status: Int32Array }>;
  /**
   * A layer writer's look at one folder (runtime/layer/write.ts), synchronously: the entries' names and
   * LAYER_FIELDS numbers each: st_mode, uid, gid, size, mtime s (toward zero), nlink, dev, ino, rdev,
   * flags (1: an xattr other than overlay's, 2: an opaque folder).
   */
  layerScanDir(path: string): { names: string[]; meta: Float64Array };
  /** The bytes of regular files of these sizes, one after another, synchronously; throws if one cannot be read or is not its size. */
  readFilesInto(paths: string[], sizes: Float64Array): Buffer;
  /** llistxattr(2): the entry's own attribute names. */
  listXattrs(path: string): string[];
  /** lgetxattr(2); null when there is no attribute of that name. */
  getXattr(path: string, name: string): Buffer | null;
  /** lsetxattr(2). */
  setXattr(path: string, name: string, value: Buffer): void;
  /** Whether the OpenSSL sha256 that Node carries was found (else common/digest.ts uses node:crypto). */
  sha256Available(): boolean;
  /** A running sha256 (an opaque handle). */
  sha256New(): object;
  /** Adds bytes, or a string as UTF-8. */
  sha256Update(handle: object, data: Uint8Array | string): void;
  /** The digest in hex; the handle takes nothing more. */
  sha256Digest(handle: object): string;
  /** `bytes` random bytes from getrandom(2), in hex. */
  randomHex(bytes: number): string;
  /** A layer's root folder opened for unpackBatch (runtime/layer/fastapply.ts); not followed if a symlink. `source`: the blob copy records read from. */
  unpackOpen(root: string, source?: string): object;
  /** Performs packed unpack records in order on the thread pool (native/unpack.c says the format); the first failure stops it. One at a time per handle. */
  unpackBatch(handle: object, ops: Uint8Array): Promise<UnpackFailure | null>;
  /** Closes what the handle holds. */
  unpackClose(handle: object): void;
  /** A non-blocking listening unix socket bound at `path` (runc's --console-socket); its fd. */
  listenUnix(path: string): number;
  /** A waiting connection's fd, or -1 when none is waiting (never blocks). */
  acceptUnix(listenFd: number): number;
  /** The fd sent over the connection (SCM_RIGHTS), or -1 when nothing came yet; throws ECONNRESET if the peer closed without one. */
  recvFd(connFd: number): number;
  /** TIOCSWINSZ: the terminal's size. */
  setWinsize(fd: number, rows: number, cols: number): void;
  /** PR_SET_CHILD_SUBREAPER: orphaned descendants become this process's children (for waitPid). */
  setSubreaper(): void;
  /** waitpid(2) on the thread pool for a child libuv did not spawn (an adopted orphan): its exit code, 128+N if killed by signal N. */
  waitPid(pid: number): Promise<number>;
  /** cfmakeraw(3) on a terminal; returns its settings before, for restoreTerminal. */
  makeRaw(fd: number): Buffer;
  /** tcsetattr(2) with settings makeRaw returned. */
  restoreTerminal(fd: number, saved: Buffer): void;
  /**
   * ext4's FS_TOPDIR_FL (`chattr +T`) on a folder: folders made in it are spread over block groups as
   * top-level ones are. False where the filesystem has no such flag (a hint, nothing depends on it).
   */
  markHierarchyTop(path: string): boolean;
}

/** Why an unpack batch stopped: a system call failed, a parent is not a real folder, a hardlink's target is missing. */
export interface UnpackFailure {
  /** The record that failed. */
  index: number;
  kind: "errno" | "notDir" | "noLinkTarget";
  /** kind errno: the error (code, errno, syscall). */
  error?: Error & { code?: string; errno?: number; syscall?: string };
  /** kind notDir: bytes (UTF-8) of the path, or of the link target when inLink, up to the component that is not a folder. */
  prefixLength: number;
  inLink: boolean;
}

export const MNT_DETACH = 2;
/** Numbers per entry in layerScanDir's meta. */
export const LAYER_FIELDS = 10;
/** copyFiles' result for a file whose donor is not an identical earlier copy. */
export const NOT_REUSABLE = -1;

/** The addon's path: native/build/ beside the folder holding this module (common/ or the bundle's dist/). */
function addonPath(): string {
  return addonPathBeside(moduleFile(typeof __filename === "string" ? __filename : undefined, import.meta.url));
}

let loaded: NativeHelpers | undefined;

export function native(): NativeHelpers {
  if (loaded !== undefined) return loaded;
  const path = addonPath();
  try {
    // dlopen directly: require() would resolve the path first (a realpath walk, ~4 ms at start-up)
    const module = { exports: {} };
    process.dlopen(module, path);
    loaded = module.exports as NativeHelpers;
  } catch (e) {
    throw new TsbuildError(`cannot load tsbuild's native helpers (${path}): run \`make build\``, { cause: e });
  }
  return loaded;
}
