// What an archive holds, before anything touches the store: images with their config bytes,
// layer files and tags, all read from an unpacked archive folder.
import { readFile, stat } from "node:fs/promises";
import type { Digest } from "../../common/digest.js";
import { ArchiveError, errnoCode, ImageReferenceError } from "../../common/errors.js";
import { resolveInRoot } from "../../common/rootpath.js";
import type { ImageConfig, Platform } from "../config.js";
import { configProblem } from "../config.js";
import { tagReference } from "../store.js";
import { sha256 } from "../../common/digest.js";

export interface PlannedLayer {
  /** Host path of the layer file inside the unpacked archive. */
  path: string;
  /** Digest of the file's bytes when the archive names one (OCI descriptors). */
  rawDigest?: Digest;
  /** Its size as the archive's descriptor gives it (OCI layouts); checked at load. */
  rawSize?: number;
  diffId: Digest;
  what: string;
}

export interface PlannedImage {
  configBytes: Buffer;
  configDigest: Digest;
  config: ImageConfig;
  layers: PlannedLayer[];
  /** Full normalized tag references. */
  tags: string[];
  /** One platform's image of a multi-platform image (an index in the archive), which is loaded as an index. */
  group?: { index: IndexGroup; platform: Platform };
}

/** The images of one index in an archive: loaded, they get one index of their own under its tags. */
export interface IndexGroup {
  /** The archive's index digest. */
  key: Digest;
  tags: string[];
}

/** Reads a member of the unpacked archive; a missing member is the archive's fault. */
export async function readMember(dir: string, rel: string, file: string): Promise<Buffer> {
  try {
    return await readFile(await memberPath(dir, rel));
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") {
      throw new ArchiveError(`${file}: archive member ${rel} is missing`);
    }
    throw e;
  }
}

export function memberPath(dir: string, rel: string): Promise<string> {
  return resolveInRoot(dir, rel);
}

/** The host path of a member that must be a regular file (a layer, streamed later). */
export async function memberFile(dir: string, rel: string, file: string): Promise<string> {
  const path = await memberPath(dir, rel);
  try {
    if ((await stat(path)).isFile()) return path;
  } catch (e) {
    const code = errnoCode(e);
    if (code !== "ENOENT" && code !== "ENOTDIR") throw e;
  }
  throw new ArchiveError(`${file}: archive member ${rel} is missing`);
}

export function parseJson<T>(buf: Buffer, what: string, file: string): T {
  try {
    return JSON.parse(buf.toString("utf8")) as T;
  } catch (e) {
    if (e instanceof SyntaxError) throw new ArchiveError(`${file}: ${what} is not valid JSON (${e.message})`);
    throw e;
  }
}

/** Parses config bytes and checks it against the digest the archive gives for it. */
export function planConfig(bytes: Buffer, expected: Digest | undefined, what: string, file: string): { config: ImageConfig; digest: Digest } {
  const digest = sha256(bytes);
  if (expected !== undefined && expected !== digest) {
    throw new ArchiveError(`${file}: ${what}: digest mismatch: expected ${expected}, got ${digest}`);
  }
  const config = parseJson<unknown>(bytes, what, file);
  const problem = configProblem(config);
  if (problem) throw new ArchiveError(`${file}: ${what}: ${problem}`);
  return { config: config as ImageConfig, digest };
}

/** Normalizes an archive's tag, turning a bad one into an ArchiveError. */
export function archiveTag(ref: string, file: string): string {
  try {
    return tagReference(ref);
  } catch (e) {
    if (e instanceof ImageReferenceError) throw new ArchiveError(`${file}: invalid tag in archive: ${e.message}`);
    throw e;
  }
}

export function checkLayerCount(img: { layers: unknown[]; config: ImageConfig }, what: string, file: string): void {
  const n = img.config.rootfs.diff_ids.length;
  if (img.layers.length !== n) {
    throw new ArchiveError(`${file}: ${what} lists ${img.layers.length} layers but its config has ${n} diff_ids`);
  }
}
