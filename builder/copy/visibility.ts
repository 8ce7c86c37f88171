// Which files of the build context exist for the build, by .dockerignore. An ignored folder still exists
// when an exception (`!pattern`) re-includes something below it: BuildKit then has the folder, with its
// own mode, holding only the re-included entries (checked against dockerd 26, see copy-rules.test.ts).
import type { Stats } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import { posix } from "node:path";

export interface Visibility {
  /** false = ignored by .dockerignore; absent = everything is visible (--from sources). */
  filter?: (rel: string) => boolean;
  /** For an ignored folder: may an exception re-include something below it? Absent = never. */
  mustDescend?: (relDir: string) => boolean;
}

/** Whether the entry `rel` (at host path `host`, lstat `st`) is part of the source tree. */
export async function isIncluded(host: string, rel: string, st: Stats, v: Visibility): Promise<boolean> {
  if (v.filter === undefined || rel === "." || rel === "" || v.filter(rel)) return true;
  if (!st.isDirectory() || v.mustDescend === undefined || !v.mustDescend(rel)) return false;
  for (const name of await readdir(host)) {
    const child = posix.join(host, name);
    if (await isIncluded(child, `${rel}/${name}`, await lstat(child), v)) return true;
  }
  return false;
}
