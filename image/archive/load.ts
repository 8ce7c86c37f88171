// `docker load`: a docker-archive tar (Docker 25+ also puts an OCI layout in it), an OCI layout tar,
// or an OCI layout folder. Everything is verified in a staging folder first; blobs move into the
// store only when the whole archive checked out, and tags land last, in one index update.
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { mkdir } from "node:fs/promises";
import { ArchiveError, DiskFullError, errnoCode, isDiskFull } from "../../common/errors.js";
import { withTempDir, pathExists } from "../../common/fsutil.js";
import { READ_CHUNK } from "../../common/readchunk.js";
import { withSharedLock } from "../../common/lock.js";
import { MediaType, type Descriptor } from "../config.js";
import type { Digest } from "../../common/digest.js";
import { entryDescriptor, type ContentStore, type ImageRecord } from "../store.js";
import { planDockerArchive } from "./dockerformat.js";
import { extractArchive, type ExtractedFile } from "./extract.js";
import { planOciLayout } from "./ociformat.js";
import type { IndexGroup, PlannedImage } from "./plan.js";
import { checkFailure, checkLayerTar } from "./tarcheck.js";
import { familiarString } from "../reference.js";
import { checkSize, compressionOf, fileHead, publishStaged, stageLayer, verifyFile, type StagedBlob } from "./stage.js";

export interface LoadOptions {
  /** Repository for an OCI layout whose ref.name is a bare tag (`latest`); without it such images load untagged. */
  name?: string;
  /** Run on the loaded images while the store is still held shared (a prune cannot take them meanwhile). */
  onLoaded?: (records: ImageRecord[]) => Promise<void>;
}

export async function loadArchive(store: ContentStore, file: string, options: LoadOptions = {}): Promise<ImageRecord[]> {
  let isDir: boolean;
  try {
    isDir = (await stat(file)).isDirectory();
  } catch (e) {
    if (errnoCode(e) === "ENOENT") throw new ArchiveError(`${file}: no such file or directory`);
    throw e;
  }
  try {
    return await loadInto(store, file, isDir, options);
  } catch (e) {
    if (isDiskFull(e)) throw new DiskFullError(`loading ${file}`, e);
    throw e;
  }
}

async function loadInto(store: ContentStore, file: string, isDir: boolean, options: LoadOptions): Promise<ImageRecord[]> {
  return withTempDir(store.paths.tmp, "load", async (tmp) => {
    let dir = file;
    let extracted = new Map<string, ExtractedFile>();
    if (!isDir) {
      dir = join(tmp, "archive");
      await mkdir(dir);
      extracted = await extractArchive(file, dir);
    }
    const plan = await planArchive(dir, file, options);
    const stagingDir = join(tmp, "staging");
    await mkdir(stagingDir);
    const staged = await stageLayers(plan, stagingDir, !isDir, extracted);
    // Published and tagged holding the store shared, as a build does: a prune in between would take
    // the blobs while nothing references them yet (it waits instead; so does this for a prune).
    const records = await withSharedLock(store.paths.gcLock, async () => {
      await publishStaged(store, staged.values());
      const written: { rec: ImageRecord; tags: string[] }[] = [];
      const indexes = new Map<IndexGroup, Descriptor[]>();
      for (const img of plan) {
        const layers = img.layers.map((l) => {
          const b = staged.get(l.path) as StagedBlob;
          return { mediaType: MediaType.ociLayer, digest: b.digest, size: b.size };
        });
        const rec = await store.writeImage(img.configBytes, layers);
        if (img.group === undefined) written.push({ rec, tags: img.tags });
        else indexes.set(img.group.index, [...(indexes.get(img.group.index) ?? []), { ...rec.manifestDescriptor, platform: img.group.platform }]);
      }
      // a multi-platform image: its platforms' images (as loaded) under one index of their own
      for (const [group, manifests] of indexes) {
        const desc = await store.writeIndexBlob(manifests);
        written.push({ rec: await store.loadRecord(desc, []), tags: group.tags });
      }
      await store.registerImages(written.map((r) => ({ manifest: entryDescriptor(r.rec), tags: r.tags })));
      await options.onLoaded?.(written.map((w) => ({ ...w.rec, refs: w.tags })));
      return written;
    });
    const listed = await store.listImages();
    return records.map(({ rec }) => ({ ...rec, refs: listed.find((l) => entryDescriptor(l).digest === entryDescriptor(rec).digest)?.refs ?? [] }));
  });
}


async function planArchive(dir: string, file: string, options: LoadOptions): Promise<PlannedImage[]> {
  let plan: PlannedImage[];
  if (await pathExists(join(dir, "manifest.json"))) plan = await planDockerArchive(dir, file);
  else if (await pathExists(join(dir, "oci-layout"))) plan = await planOciLayout(dir, file, options.name);
  else throw new ArchiveError(`${file}: not an image archive (no manifest.json or oci-layout)`);
  if (plan.length === 0) throw new ArchiveError(`${file}: the archive holds no image`);
  return plan;
}

/** verifyFile's check, on the digest the extraction computed. */
function checkedDigest(path: string, seen: ExtractedFile, expected: Digest, what: string): StagedBlob {
  if (seen.digest !== expected) throw new ArchiveError(`${what}: digest mismatch: expected ${expected}, got ${seen.digest}`);
  return { path, digest: expected, size: seen.size };
}

/**
 * Verifies every layer; a layer file of an unpacked tar that is already uncompressed is checked in
 * place (and later moved), anything else is decompressed or copied into the staging folder.
 */
async function stageLayers(plan: PlannedImage[], stagingDir: string, movable: boolean, extracted: Map<string, ExtractedFile>): Promise<Map<string, StagedBlob>> {
  const staged = new Map<string, StagedBlob>();
  for (const img of plan) {
    for (const layer of img.layers) {
      const known = staged.get(layer.path);
      if (known) {
        if (known.digest !== layer.diffId) throw new ArchiveError(`${layer.what}: diffID mismatch: the config says ${layer.diffId}, the layer is ${known.digest}`);
        continue;
      }
      const head = await fileHead(layer.path);
      const plainInPlace = movable && compressionOf(head) === "none" && (layer.rawDigest === undefined || layer.rawDigest === layer.diffId);
      const what = `${layer.what} of ${img.tags[0] === undefined ? "an untagged image" : familiarString(img.tags[0])}`;
      // a layer the extraction hashed and checked as it wrote it is not read again
      const seen = plainInPlace ? extracted.get(layer.path) : undefined;
      const blob = seen !== undefined
        ? checkedDigest(layer.path, seen, layer.diffId, layer.what)
        : plainInPlace
          ? await verifyFile(layer.path, layer.diffId, layer.what)
          : await stageLayer(createReadStream(layer.path, { highWaterMark: READ_CHUNK }), head, stagingDir, layer);
      if (plainInPlace) checkSize(blob.size, layer);
      if (seen === undefined) await checkLayerTar(blob.path, what);
      else if (seen.notTar !== undefined) throw checkFailure(seen.notTar, what);
      staged.set(layer.path, blob);
    }
  }
  return staged;
}
