import type { Limiter } from "../../common/limit.js";
import type { SourcePlace } from "../../common/errors.js";

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
}

/** What every copy of one request shares. */
export interface CopyContext {
  req: CopyRequest;
  /** Inode ("dev:ino") of a source already copied → where it went (and its new inode), to recreate hardlinks. */
  links: Map<string, { path: string; ino: number }>;
  /** Bounds the file operations in flight across the whole copy. */
  limit: Limiter;
}
