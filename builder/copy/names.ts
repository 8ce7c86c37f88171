// File names that are not valid UTF-8. Node gives such a name as a string with U+FFFD in place of the
// bad bytes, which names nothing on disk; BuildKit copies the raw bytes. tsbuild's paths are strings
// from the context walk to the layer writer, so it refuses such a name with the file named (its bad
// bytes as \xNN) instead of failing on a raw ENOENT, or skipping it.
import { readdirSync } from "node:fs";
import { posix } from "node:path";
import { ContextError, type SourcePlace } from "../../common/errors.js";

const decoder = new TextDecoder("utf-8", { fatal: true });

/** A raw name shown with its non-UTF-8 bytes as \xNN (valid sequences as they are). */
export function showRawName(raw: Buffer): string {
  let out = "";
  let i = 0;
  while (i < raw.length) {
    const len = sequenceLength(raw, i);
    if (len === 0) {
      out += `\\x${(raw[i] as number).toString(16).padStart(2, "0")}`;
      i++;
    } else {
      out += raw.subarray(i, i + len).toString("utf8");
      i += len;
    }
  }
  return out;
}

/** The length of the valid UTF-8 sequence at i, or 0. */
function sequenceLength(raw: Buffer, i: number): number {
  for (let len = 1; len <= 4 && i + len <= raw.length; len++) {
    try {
      decoder.decode(raw.subarray(i, i + len));
      return len;
    } catch {
      // not (yet) a whole valid sequence
    }
  }
  return 0;
}

/**
 * Fails when folder `dir` (relative path `rel` in its source) holds a name that is not valid UTF-8 and
 * that `kept` (the .dockerignore filter, on the name as Node decodes it) keeps; returns the names (as
 * Node lists them) of those it does not keep, which the caller must skip: they name nothing on disk.
 * Cheap to call only when a listed name has U+FFFD.
 */
export function nonUtf8Names(dir: string, rel: string, kept: (childRel: string) => boolean, place: SourcePlace, source: string): Set<string> {
  const skipped = new Set<string>();
  for (const raw of readdirSync(dir, { encoding: "buffer" })) {
    try {
      decoder.decode(raw);
      continue;
    } catch {
      // a name that is not UTF-8
    }
    const name = raw.toString("utf8");
    const childRel = rel === "." || rel === "" ? name : `${rel}/${name}`;
    if (!kept(childRel)) {
      skipped.add(name);
      continue;
    }
    const shown = posix.join(rel === "" ? "." : rel, showRawName(raw));
    throw new ContextError(shown, `cannot copy ${shown} from the ${source}: its file name is not valid UTF-8, which tsbuild does not support: rename it, or exclude it in .dockerignore`, place);
  }
  return skipped;
}

/** The names of a listing minus those nonUtf8Names says to skip (the listing as it is when none may be). */
export function withoutNonUtf8(names: string[], dir: string, rel: string, kept: (childRel: string) => boolean, place: SourcePlace, source: string): string[] {
  if (!names.some((n) => n.includes("\uFFFD"))) return names;
  const skipped = nonUtf8Names(dir, rel, kept, place, source);
  return skipped.size === 0 ? names : names.filter((n) => !skipped.has(n));
}

