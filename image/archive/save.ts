// `docker save`: a docker-archive laid out as Docker 25+ writes it, which is at the same time an OCI
// layout (blobs/sha256/, index.json, oci-layout) plus manifest.json and repositories. Each blob is
// written once however many images share it. The output is a temporary file renamed into place.
import { open, readdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join, basename } from "node:path";
import { digestHex, randomHex, type Digest } from "../../common/digest.js";
import { errnoCode, UserError } from "../../common/errors.js";
import { Annotation, MediaType, type Descriptor, type ImageIndex } from "../config.js";
import { OCI_LAYOUT_CONTENT } from "../layoutindex.js";
import { familiarName, parseReference, tryParseReference } from "../reference.js";
import { entryDescriptor, type ContentStore, type ImageRecord } from "../store.js";
import type { PlatformSpec } from "../registry/platform.js";
import { TarWriter, type TarEntry } from "../tar/index.js";
import { deadOwned, ownerToken } from "../../common/owner.js";
import { testPause } from "../../common/testpause.js";

interface SavedImage {
  record: ImageRecord;
  /** A multi-platform image saved whole (OCI format without --platform): every platform's image. */
  platforms?: ImageRecord[];
  /** Full references the user asked for that name this image (tags only). */
  tags: string[];
}

/**
 * Resolves each reference; references to one image are merged, in order of first mention. A
 * multi-platform image is saved whole when `whole` (an OCI layout), else as its `platform`'s image
 * (by default this machine's): a docker-archive holds one image per name.
 */
async function collect(store: ContentStore, refs: string[], whole: boolean, platform?: PlatformSpec): Promise<SavedImage[]> {
  const out: SavedImage[] = [];
  for (const ref of refs) {
    const record = await store.resolveImage(ref, platform);
    const parsed = record.refs.length > 0 ? tagNamed(ref) : undefined;
    const tag = parsed !== undefined && record.refs.includes(parsed) ? parsed : undefined;
    const all = whole && platform === undefined && record.index !== undefined;
    const known = out.find((s) => entryOf(s).digest === (all ? entryDescriptor(record) : record.manifestDescriptor).digest);
    if (known) {
      if (tag !== undefined && !known.tags.includes(tag)) known.tags.push(tag);
    } else out.push({ record, tags: tag === undefined ? [] : [tag], ...(all ? { platforms: await store.platformRecords(record) } : {}) });
  }
  return out;
}

/** What index.json names for a saved image: its index when saved whole, else its manifest. */
function entryOf(s: SavedImage): Descriptor {
  return s.platforms !== undefined ? entryDescriptor(s.record) : s.record.manifestDescriptor;
}

function tagNamed(ref: string): string | undefined {
  const r = tryParseReference(ref); // undefined: an id, not a reference
  return r !== undefined && r.digest === undefined ? r.full : undefined;
}

const DIR_MODE = 0o755;
const FILE_MODE = 0o644;

function fileEntry(path: string, size: number): TarEntry {
  return { path, type: "file", mode: FILE_MODE, uid: 0, gid: 0, size, mtime: 0 };
}

function dirEntry(path: string): TarEntry {
  return { path, type: "dir", mode: DIR_MODE, uid: 0, gid: 0, size: 0, mtime: 0 };
}

/** index.json as Docker writes it: one entry per tag, ref.name = the tag, containerd's full name. */
function layoutIndex(images: SavedImage[]): ImageIndex {
  const manifests: Descriptor[] = [];
  for (const saved of images) {
    const { tags } = saved;
    const d = entryOf(saved);
    const plain = { mediaType: d.mediaType, digest: d.digest, size: d.size };
    if (tags.length === 0) manifests.push(plain);
    for (const full of tags) {
      const tag = parseReference(full).tag ?? "latest";
      manifests.push({ ...plain, annotations: { [Annotation.containerdImageName]: full, [Annotation.refName]: tag } });
    }
  }
  return { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests };
}

function dockerManifest(images: SavedImage[]): unknown[] {
  return images.map(({ record, tags }) => ({
    Config: `blobs/sha256/${digestHex(record.configDigest)}`,
    RepoTags: tags.map((t) => parseReference(t).familiar),
    Layers: record.manifest.layers.map((l) => `blobs/sha256/${digestHex(l.digest)}`),
  }));
}

/** The legacy `repositories` file: familiar repository → tag → top layer id. */
function repositories(images: SavedImage[]): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const { record, tags } of images) {
    const top = record.manifest.layers[record.manifest.layers.length - 1];
    if (!top) continue;
    for (const full of tags) {
      const r = parseReference(full);
      const repo = familiarName(r.domain, r.path);
      (out[repo] ??= {})[r.tag ?? "latest"] = digestHex(top.digest);
    }
  }
  return out;
}

/** The archive's blobs, each once: manifests, configs and layers of every image. */
function blobsOf(images: SavedImage[]): Map<Digest, number> {
  const blobs = new Map<Digest, number>();
  for (const saved of images) {
    blobs.set(entryOf(saved).digest, entryOf(saved).size);
    for (const record of saved.platforms ?? [saved.record]) {
      for (const d of [record.manifestDescriptor, record.manifest.config, ...record.manifest.layers]) blobs.set(d.digest, d.size);
    }
  }
  return blobs;
}

/** Streams the archive of these images into `stream` (not ended: the caller owns it). */
async function writeTar(store: ContentStore, images: SavedImage[], stream: NodeJS.WritableStream, docker: boolean): Promise<void> {
  const tar = new TarWriter(stream);
  await tar.add(dirEntry("blobs"));
  await tar.add(dirEntry("blobs/sha256"));
  for (const [digest] of blobsOf(images)) {
    const size = await store.blobSize(digest);
    await tar.add(fileEntry(`blobs/sha256/${digestHex(digest)}`, size), store.openBlob(digest));
  }
  const small = (path: string, value: unknown): Promise<void> => {
    const body = Buffer.from(typeof value === "string" ? value : JSON.stringify(value));
    return tar.add(fileEntry(path, body.length), body);
  };
  await small("index.json", layoutIndex(images));
  if (docker) await small("manifest.json", dockerManifest(images));
  await small("oci-layout", OCI_LAYOUT_CONTENT);
  if (docker) await small("repositories", repositories(images));
  await tar.finish();
}

/**
 * The partial archives a killed save of the same output left beside it (`.<name>.tmp-<owner>-<hex>`,
 * their owner dead): outside the store, so no store sweep finds them; the next save of that file does.
 */
async function removeDeadPartials(out: string): Promise<void> {
  const prefix = `.${basename(out)}.tmp-`;
  const names = await readdir(dirname(out)).catch((e: unknown) => {
    if (errnoCode(e) === "ENOENT" || errnoCode(e) === "ENOTDIR" || errnoCode(e) === "EACCES") return [];
    throw e;
  });
  for (const name of names) {
    const path = join(dirname(out), name);
    if (name.startsWith(prefix) && deadOwned(name, path)) await rm(path, { force: true });
  }
}

async function writeArchive(store: ContentStore, refs: string[], out: string, docker: boolean, platform?: PlatformSpec): Promise<void> {
  const images = await collect(store, refs, !docker, platform);
  await testPause("save-resolved"); // test/gc.test.ts: an rmi and a prune from here on take nothing it reads
  const tmp = join(dirname(out), `.${basename(out)}.tmp-${ownerToken()}-${randomHex(4)}`);
  if (await isDirectory(out)) throw new UserError(`cannot write ${out}: it is a directory`);
  await removeDeadPartials(out);
  const handle = await open(tmp, "wx", 0o644).catch((e: unknown) => {
    const code = errnoCode(e);
    if (code === "ENOENT" || code === "ENOTDIR") throw new UserError(`cannot write ${out}: no such directory ${dirname(out)}`);
    if (code === "EACCES" || code === "EROFS" || code === "EPERM") throw new UserError(`cannot write ${out}: permission denied`);
    throw e;
  });
  const stream = handle.createWriteStream();
  try {
    await writeTar(store, images, stream, docker);
    const fh = await open(tmp, "r");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, out);
  } finally {
    stream.destroy();
    await rm(tmp, { force: true });
  }
}

/** Streams a docker-archive (or, with docker=false, an OCI layout tar) to `out`, e.g. standard output. */
export async function saveArchiveToStream(store: ContentStore, refs: string[], out: NodeJS.WritableStream, docker: boolean, platform?: PlatformSpec): Promise<void> {
  await writeTar(store, await collect(store, refs, !docker, platform), out, docker);
}

/** Writes a docker-archive that `docker load` accepts (and that is also an OCI layout): one platform's image per name. */
export function saveDockerArchive(store: ContentStore, refs: string[], out: string, platform?: PlatformSpec): Promise<void> {
  return writeArchive(store, refs, out, true, platform);
}

/** Writes an OCI image layout as a tar (index.json annotated as Docker does); a multi-platform image whole, unless `platform`. */
export function saveOciArchive(store: ContentStore, refs: string[], out: string, platform?: PlatformSpec): Promise<void> {
  return writeArchive(store, refs, out, false, platform);
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (e) {
    if (errnoCode(e) === "ENOENT" || errnoCode(e) === "ENOTDIR") return false;
    throw e;
  }
}
