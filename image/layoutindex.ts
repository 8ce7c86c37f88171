// The OCI layout's index.json: one manifest descriptor per tag (ref.name = full normalized reference),
// plus one entry per untagged ("dangling") image. Updates are read-modify-atomic-write under a file
// lock, so concurrent builds on one store both land.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { errnoCode } from "../common/errors.js";
import { withFileLock } from "../common/lock.js";
import type { StorePaths } from "../common/storepaths.js";
import type { Digest } from "../common/digest.js";
import { Annotation, MediaType, type Descriptor, type ImageIndex } from "./config.js";
import { writeFileVia } from "./blobs.js";

export const OCI_LAYOUT_FILE = "oci-layout";
export const OCI_LAYOUT_CONTENT = JSON.stringify({ imageLayoutVersion: "1.0.0" });

export function emptyIndex(): ImageIndex {
  return { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
}

export function refNameOf(d: Descriptor): string | undefined {
  return d.annotations?.[Annotation.refName];
}

export function isDanglingEntry(d: Descriptor): boolean {
  return refNameOf(d) === undefined;
}

export async function readIndex(paths: StorePaths): Promise<ImageIndex> {
  let text: string;
  try {
    text = readFileSync(paths.indexJson, "utf8"); // small, read on every build: no thread-pool round trip
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return emptyIndex();
    throw e;
  }
  const index = JSON.parse(text) as ImageIndex;
  if (!Array.isArray(index.manifests)) index.manifests = [];
  return index;
}

export async function writeIndex(paths: StorePaths, index: ImageIndex): Promise<void> {
  await writeFileVia(paths.tmp, paths.indexJson, JSON.stringify(index, null, 2) + "\n");
}

/** Runs fn on the current entries under the store's index lock and writes back what it returns. */
export async function updateIndex<T>(
  paths: StorePaths,
  fn: (manifests: Descriptor[]) => { manifests: Descriptor[]; result: T },
): Promise<T> {
  return withFileLock(join(paths.locks, "index.lock"), async () => {
    const index = await readIndex(paths);
    const { manifests, result } = fn(index.manifests);
    await writeIndex(paths, { ...index, manifests });
    return result;
  });
}

function plainDescriptor(d: Descriptor): Descriptor {
  return { mediaType: d.mediaType, digest: d.digest, size: d.size };
}

export function taggedEntry(manifest: Descriptor, full: string): Descriptor {
  return { ...plainDescriptor(manifest), annotations: { [Annotation.refName]: full } };
}

export function danglingEntry(manifest: Descriptor): Descriptor {
  return { ...plainDescriptor(manifest), annotations: { [Annotation.dangling]: "true" } };
}

/**
 * Points each full reference at its manifest. A tag that moves away from a manifest which then has
 * no entry left leaves that manifest as a dangling entry, as Docker keeps dangling images. An image
 * registered without tags becomes dangling unless it already has an entry.
 */
export function applyTags(entries: Descriptor[], items: { manifest: Descriptor; tags: string[] }[]): Descriptor[] {
  let out = [...entries];
  for (const { manifest, tags } of items) {
    for (const full of tags) {
      const displaced = out.filter((d) => refNameOf(d) === full && d.digest !== manifest.digest);
      out = out.filter((d) => refNameOf(d) !== full);
      out = out.filter((d) => !(d.digest === manifest.digest && isDanglingEntry(d)));
      out.push(taggedEntry(manifest, full));
      for (const old of displaced) {
        if (!out.some((d) => d.digest === old.digest)) out.push(danglingEntry(old));
      }
    }
    if (tags.length === 0 && !out.some((d) => d.digest === manifest.digest)) out.push(danglingEntry(manifest));
  }
  return out;
}

/** Manifest digests referenced by the index, in order, without repeats. */
export function manifestDigests(entries: Descriptor[]): Digest[] {
  return [...new Set(entries.map((d) => d.digest))];
}
