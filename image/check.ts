// The content store's part of `system check`: every blob against its digest, every index entry's
// manifest, config and layers present, parseable and of the size their descriptors say.
import { readdir, rm, stat } from "node:fs/promises";
import { join, relative } from "node:path";
import { isDigest, sha256File, type Digest } from "../common/digest.js";
import { errnoCode, errorMessage } from "../common/errors.js";
import { listDirIfExists } from "../common/fsutil.js";
import { deadOwned } from "../common/owner.js";
import type { CheckResult, StoreProblem } from "../common/storecheck.js";
import type { StorePaths } from "../common/storepaths.js";
import { configProblem, isDescriptor, isIndexMediaType, manifestProblem, type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest } from "./config.js";
import { formatPlatform, platformEntries, type PlatformSpec } from "./registry/platform.js";
import { readIndex, refNameOf } from "./layoutindex.js";
import type { ContentStore } from "./store.js";

/** Blobs whose bytes do not hash to their name are removed by a repair (a pull or load brings them back). */
export async function checkBlobs(paths: StorePaths): Promise<CheckResult> {
  const problems: StoreProblem[] = [];
  let blobs = 0;
  for (const name of await listDirIfExists(paths.blobs)) {
    const file = join(paths.blobs, name);
    const where = relative(paths.root, file);
    const digest = `sha256:${name}`;
    if (!isDigest(digest)) {
      // blobs are written in tmp/ and renamed here: anything else is a stray (a dead writer's, or foreign)
      const dead = deadOwned(name, file);
      problems.push({ line: `${where}: not a blob${dead ? " (a killed writer's temporary file)" : ""}`, ...(dead ? { repair: () => removed(file) } : {}) });
      continue;
    }
    blobs++;
    let actual: Digest;
    try {
      actual = await sha256File(file);
    } catch (e) {
      if (errnoCode(e) === "ENOENT") continue; // removed meanwhile
      if (errnoCode(e) === "EISDIR") {
        problems.push({ line: `${where}: a folder where a blob should be` });
        continue;
      }
      throw e;
    }
    if (actual !== digest) {
      problems.push({ line: `${where}: content hashes to ${actual} (corrupt blob)`, repair: () => removed(file) });
    }
  }
  return { problems, counts: { blobs } };
}

/** Every image the index lists: its manifest, config and layer blobs present and well-formed. */
export async function checkIndex(store: ContentStore): Promise<CheckResult> {
  const problems: StoreProblem[] = [];
  let index;
  try {
    index = await readIndex(store.paths);
  } catch (e) {
    if (e instanceof SyntaxError) return { problems: [{ line: `${store.paths.indexJson}: not valid JSON (${e.message})` }], counts: {} };
    throw e;
  }
  const seen = new Set<Digest>();
  for (const entry of index.manifests) {
    if (seen.has(entry.digest)) continue;
    seen.add(entry.digest);
    const name = `image ${refNameOf(entry) ?? entry.digest}`;
    if (isIndexMediaType(entry.mediaType)) {
      // a multi-platform image: its index, then each platform's image
      const index = await readChecked<ImageIndex>(store, entry, `${name}: index`, indexProblem, problems);
      for (const child of index === undefined ? [] : platformEntries(index)) {
        await checkManifest(store, child, `${name} (${formatPlatform(child.platform as PlatformSpec)})`, problems);
      }
      continue;
    }
    await checkManifest(store, entry, name, problems);
  }
  return { problems, counts: { images: seen.size } };
}

function indexProblem(v: unknown): string | undefined {
  const manifests = (v as Partial<ImageIndex> | null)?.manifests;
  return Array.isArray(manifests) && manifests.every(isDescriptor) ? undefined : "index has no valid manifests list";
}

async function checkManifest(store: ContentStore, entry: Descriptor, name: string, problems: StoreProblem[]): Promise<void> {
  {
    const manifest = await readChecked<ImageManifest>(store, entry, `${name}: manifest`, manifestProblem, problems);
    if (manifest === undefined) return;
    const config = await readChecked<ImageConfig>(store, manifest.config, `${name}: config`, configProblem, problems);
    for (const [i, layer] of manifest.layers.entries()) await presentBlob(store, layer, `${name}: layer ${i + 1}`, problems);
    if (config !== undefined && config.rootfs.diff_ids.length !== manifest.layers.length) {
      problems.push({ line: `${name}: the manifest lists ${manifest.layers.length} layers, the config ${config.rootfs.diff_ids.length} diff_ids` });
    }
  }
}

async function readChecked<T>(
  store: ContentStore, desc: Descriptor, what: string, shapeProblem: (v: unknown) => string | undefined, problems: StoreProblem[],
): Promise<T | undefined> {
  if (!(await presentBlob(store, desc, what, problems))) return undefined;
  let parsed: unknown;
  try {
    parsed = await store.readJson<unknown>(desc.digest);
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    problems.push({ line: `${what} ${desc.digest}: not valid JSON (${errorMessage(e)})` });
    return undefined;
  }
  const problem = shapeProblem(parsed);
  if (problem !== undefined) {
    problems.push({ line: `${what} ${desc.digest}: ${problem}` });
    return undefined;
  }
  return parsed as T;
}

/** Whether the descriptor's blob is there with its size; a problem line if not. */
async function presentBlob(store: ContentStore, desc: Descriptor, what: string, problems: StoreProblem[]): Promise<boolean> {
  let size: number;
  try {
    size = (await stat(store.blobPath(desc.digest))).size;
  } catch (e) {
    if (errnoCode(e) !== "ENOENT") throw e;
    problems.push({ line: `${what} ${desc.digest}: missing blob` });
    return false;
  }
  if (size !== desc.size) {
    problems.push({ line: `${what} ${desc.digest}: ${size} bytes, its descriptor says ${desc.size}` });
    return false;
  }
  return true;
}

async function removed(path: string): Promise<string> {
  await rm(path, { force: true });
  return "removed";
}

/** For the cache's and runtime's checks: the blob names present (a readdir, not a stat per digest). */
export async function blobNames(paths: StorePaths): Promise<Set<string>> {
  try {
    return new Set(await readdir(paths.blobs));
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return new Set();
    throw e;
  }
}
