import type { Stats } from "node:fs";
import type { Limiter } from "../../common/limit.js";
import type { SourcePlace } from "../../common/errors.js";
import type { IgnoreMatcher } from "../../cache/ignorepatterns.js";
import type { ParentsSource } from "./parents.js";

export interface Owner {
  uid: number;
  gid: number;
}

/** One COPY or ADD, with its sources already matched (matchSources) and its flags parsed. */
export interface CopyRequest {
  /** The context folder, or another stage's / image's mounted rootfs (--from). */
  sourceRoot: string;
  /** Context only: false = ignored by .dockerignore (never copied, also inside copied folders). */
  filter?: (rel: string) => boolean;
  /** Context only: may an ignored folder hold re-included files (`!pattern`)? (BuildContext.mustDescend) */
  mustDescend?: (relDir: string) => boolean;
  /** Context files become 0:0 (BuildKit resets them); --from sources keep their owners. */
  fromContext: boolean;
  /** Matched relative paths (from matchSources), copied in this order. */
  sources: string[];
  /** COPY --parents: the bases and what below each keeps its path (parents.ts), copied after `sources`. */
  parents?: ParentsSource[];
  /** --exclude: left out below each source (exclude.ts); the sources themselves are always copied. */
  exclude?: IgnoreMatcher;
  /** Heredoc sources: `COPY <<EOF /dest`. */
  inline?: Array<{ name: string; content: string }>;
  /** The step's mounted rootfs; every destination path is resolved inside it. */
  destRoot: string;
  /** As written in the Dockerfile; relative to workdir unless absolute. A trailing `/` means "a folder". */
  dest: string;
  workdir: string;
  chown?: Owner;
  /** Applies to every copied file and folder (not symlinks, not created parents, not extracted archives). */
  chmod?: number;
  /** ADD: local tar archives (detected by content) are extracted instead of copied. */
  add: boolean;
  place: SourcePlace;
  /** Files the previous build of this step copied, unchanged since, are written straight into the upper dir (reuse.ts). */
  reuse?: CopyReuse;
}

/**
 * What a COPY may take from the committed snapshot of the previous build of the same step (same
 * definition and parent): a file whose source content is unchanged, and whose previous copy has
 * exactly the metadata this copy would give it, is copied straight into the upper dir after the copy
 * through the mount (by the native helper, no overlay), and its layer member is taken from the previous
 * layer (runtime/layer/donor.ts) instead of being read back. Each copy is its own inode (st_nlink 1,
 * as BuildKit's). Set up by builder/fastcopy.ts; done by reuse.ts.
 */
export interface CopyReuse {
  /** The active snapshot's upper dir (the files go straight in, after the copy through the mount). */
  upper: string;
  /** The previous snapshot's diff, read only. */
  donor: string;
  /** Source paths (relative to sourceRoot, as in the step's inputs) whose digest did not change. */
  unchanged: Set<string>;
  /** Filled in: the paths (relative to the upper dir) written this way, whose members equal the previous layer's. */
  reused: Set<string>;
}

/** What every copy of one request shares. */
export interface CopyContext {
  req: CopyRequest;
  /** Inode ("dev:ino") of a source already copied → where it went (and its new inode), to recreate hardlinks. */
  links: Map<string, { path: string; ino: number }>;
  /** Bounds the file operations in flight across the whole copy. */
  limit: Limiter;
  /** Files taken from the previous build's copy (reuse.ts), in order. */
  deferred: DeferredFile[];
  /** Their native copies, started in batches during the walk: each batch's errnos, in order. */
  copies: Array<Promise<Int32Array>>;
  /** Times given to copied folders (by host path under destRoot), restored after the links touch them. */
  folderTimes: Map<string, { atime: Date; mtime: Date }>;
}

export interface DeferredFile {
  src: string;
  st: Stats;
  owner: Owner;
  mode: number;
  /** Host path under destRoot (through the mount). */
  target: string;
  /** Path below the rootfs, e.g. `app/data/f.bin`. */
  inside: string;
}
