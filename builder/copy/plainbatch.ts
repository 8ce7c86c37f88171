// The regular files of a folder COPY has just made, copied in one native call (common/native.ts
// copyPlainFiles: on the thread pool, with their xattrs, owner, mode and times set as metadata.ts sets
// them) instead of six promises each: a 20,000-file `COPY --from` of an npm install's output spent most
// of its time in those round trips. Only files nothing can be in the way of (the folder is new) and
// that are not hardlinked (tree.ts links those in order); a file the call could not copy goes the
// normal way, which also reports a real failure as it always has.
import type { Stats } from "node:fs";
import { native } from "../../common/native.js";
import type { Owner } from "./types.js";

/** Fewer files than this in a folder: the normal path (a native call has its own round trip). */
export const MIN_PLAIN_BATCH = 4;

export interface PlainFile {
  src: string;
  st: Stats;
  target: string;
  owner: Owner;
  mode: number;
}

/** Copies the files natively; each one the call did not copy is handed to `fallback`. */
export async function copyPlainFiles(files: PlainFile[], fallback: (f: PlainFile) => Promise<void>): Promise<void> {
  const meta = new Float64Array(files.length * 5);
  files.forEach((f, i) => meta.set([f.owner.uid, f.owner.gid, f.mode, f.st.atime.getTime(), f.st.mtime.getTime()], i * 5));
  const results = await native().copyPlainFiles(files.map((f) => f.src), files.map((f) => f.target), meta);
  for (const [i, f] of files.entries()) {
    if (results[i] !== 0) await fallback(f);
  }
}
