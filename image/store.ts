// The content store: an OCI image layout at the store root (oci-layout, index.json, blobs/sha256/)
// with tsbuild's own folders beside it. Local layers are stored uncompressed: digest = diffID.
import { pathExists } from "../common/fsutil.js";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Digest } from "../common/digest.js";
import { ImageNotFoundError, ImageReferenceError } from "../common/errors.js";
import type { StorePaths } from "../common/storepaths.js";
import { BlobStore, writeFileVia } from "./blobs.js";
import { chainIds, isIndexMediaType, manifestProblem, MediaType, type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest } from "./config.js";
import { UserError } from "../common/errors.js";
import { defaultEntry, formatPlatform, platformEntries, platformMatches, selectPlatform, type PlatformSpec } from "./registry/platform.js";
import {
  applyTags, manifestDigests, OCI_LAYOUT_CONTENT, OCI_LAYOUT_FILE, readIndex, refNameOf, updateIndex,
} from "./layoutindex.js";
import { idPrefix, parseReference, tryParseReference } from "./reference.js";

export interface ImageRecord {
  manifestDigest: Digest;
  manifestDescriptor: Descriptor;
  manifest: ImageManifest;
  /** The image id. */
  configDigest: Digest;
  config: ImageConfig;
  /** Full normalized references (`docker.io/library/app:1.0`) pointing at this manifest; empty when dangling. */
  refs: string[];
  /**
   * When the index entry is an image index (a multi-platform image): the index, of which the fields
   * above are one platform's image (the one asked for, by default this machine's).
   */
  index?: { descriptor: Descriptor; index: ImageIndex };
}

/** What the layout's index.json lists for the record: its image index, or its manifest. */
export function entryDescriptor(rec: ImageRecord): Descriptor {
  return rec.index?.descriptor ?? rec.manifestDescriptor;
}

export class ContentStore extends BlobStore {
  private constructor(paths: StorePaths) {
    super(paths);
  }

  /** Opens the store, creating the layout (and tsbuild's folders) when missing. */
  static async open(paths: StorePaths): Promise<ContentStore> {
    for (const dir of [paths.root, paths.blobs, paths.tmp, paths.locks]) await mkdir(dir, { recursive: true });
    const store = new ContentStore(paths);
    if (!(await pathExists(join(paths.layout, OCI_LAYOUT_FILE)))) {
      await writeFileVia(paths.tmp, join(paths.layout, OCI_LAYOUT_FILE), OCI_LAYOUT_CONTENT);
    }
    if (!(await pathExists(paths.indexJson))) {
      await updateIndex(paths, (m) => ({ manifests: m, result: undefined }));
    }
    return store;
  }

  /** Writes config and OCI manifest blobs (no index change). config may be raw bytes to keep an image id. */
  async writeImage(config: ImageConfig | Buffer, layers: Descriptor[]): Promise<ImageRecord> {
    for (const l of layers) {
      if (!(await this.has(l.digest))) throw new Error(`layer blob ${l.digest} is not in the store`);
    }
    const raw = Buffer.isBuffer(config) ? config : Buffer.from(JSON.stringify(config), "utf8");
    const parsed = Buffer.isBuffer(config) ? (JSON.parse(raw.toString("utf8")) as ImageConfig) : config;
    const configDesc = await this.writeBlob(raw, MediaType.ociConfig);
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: configDesc,
      layers: layers.map((l) => ({ mediaType: ociLayerType(l.mediaType), digest: l.digest, size: l.size })),
    };
    const manifestDescriptor = await this.writeBlob(JSON.stringify(manifest), MediaType.ociManifest);
    return {
      manifestDigest: manifestDescriptor.digest,
      manifestDescriptor,
      manifest,
      configDigest: configDesc.digest,
      config: parsed,
      refs: [],
    };
  }

  /** writeImage, then one index update: the given tags (any form) move here, or it is listed as dangling. */
  async putImage(config: ImageConfig | Buffer, layers: Descriptor[], tags: string[] = []): Promise<ImageRecord> {
    const rec = await this.writeImage(config, layers);
    await this.registerImages([{ manifest: rec.manifestDescriptor, tags }]);
    return { ...rec, refs: await this.refsOf(rec.manifestDigest) };
  }

  /** One locked index update for several images (an archive load lands all its tags at once). */
  async registerImages(items: { manifest: Descriptor; tags: string[] }[]): Promise<void> {
    const normalized = items.map((i) => ({ manifest: i.manifest, tags: i.tags.map(tagReference) }));
    await updateIndex(this.paths, (m) => ({ manifests: applyTags(m, normalized), result: undefined }));
  }

  /** Points ref (e.g. `app:1.0`) at the manifest; the image it left, if untagged now, stays dangling. */
  async tag(ref: string, manifest: Descriptor): Promise<void> {
    await this.registerImages([{ manifest, tags: [ref] }]);
  }

  /** Removes one tag (as `docker rmi app:1.0`): an image left with no tag goes from the index too. */
  async untag(ref: string): Promise<void> {
    const full = tagReference(ref);
    const found = await updateIndex(this.paths, (m) => ({
      manifests: m.filter((d) => refNameOf(d) !== full),
      result: m.some((d) => refNameOf(d) === full),
    }));
    if (!found) throw new ImageNotFoundError(ref, `No such image: ${ref}`);
  }

  /** Removes every index entry of an image (by id, prefix or reference); returns the refs it had. */
  async removeImage(idOrRef: string): Promise<string[]> {
    const rec = await this.resolveImage(idOrRef);
    const all = await this.listImages();
    const manifests = new Set([entryDescriptor(rec).digest, ...all.filter((r) => r.configDigest === rec.configDigest).map((r) => entryDescriptor(r).digest)]);
    return updateIndex(this.paths, (m) => ({
      manifests: m.filter((d) => !manifests.has(d.digest)),
      result: m.filter((d) => manifests.has(d.digest)).flatMap((d) => refNameOf(d) ?? []),
    }));
  }

  /** Writes an image index of platform manifests (each descriptor with its platform); no index.json change. */
  async writeIndexBlob(manifests: Descriptor[]): Promise<Descriptor> {
    const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests };
    return this.writeBlob(JSON.stringify(index), MediaType.ociIndex);
  }

  /**
   * The image an index.json entry names. An image index gives one platform's image: `platform`'s (an
   * error listing the platforms there are when it has none), by default this machine's or the first.
   */
  async loadRecord(manifest: Descriptor, refs: string[], platform?: PlatformSpec): Promise<ImageRecord> {
    if (isIndexMediaType(manifest.mediaType)) {
      const index = await this.readJson<ImageIndex>(manifest.digest);
      const what = refs[0] ?? manifest.digest;
      const child = platform !== undefined ? selectPlatform(index, platform, what) : defaultEntry(index);
      if (child === undefined) throw new UserError(`${what}: the image index lists no manifest`);
      const rec = await this.loadRecord(child, refs);
      return { ...rec, index: { descriptor: { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.size }, index } };
    }
    const m = await this.readJson<ImageManifest>(manifest.digest);
    return {
      manifestDigest: manifest.digest,
      manifestDescriptor: { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.size },
      manifest: m,
      configDigest: m.config.digest,
      config: await this.readJson<ImageConfig>(m.config.digest),
      refs,
    };
  }

  /** Every platform's image of a record (itself alone when it is no index); manifests not in the store are left out. */
  async platformRecords(rec: ImageRecord): Promise<ImageRecord[]> {
    if (rec.index === undefined) return [rec];
    const out: ImageRecord[] = [];
    for (const d of platformEntries(rec.index.index)) {
      if (await this.has(d.digest)) out.push({ ...(await this.loadRecord(d, rec.refs)), index: rec.index });
    }
    return out;
  }

  /**
   * The record for `platform` (an index's entry, or the record itself when its config is of that
   * platform): `--platform` of inspect, history, run and save.
   */
  async forPlatform(rec: ImageRecord, platform: PlatformSpec | undefined, name: string): Promise<ImageRecord> {
    if (platform === undefined) return rec;
    if (rec.index !== undefined) return { ...(await this.loadRecord(entryDescriptor(rec), rec.refs, platform)), refs: rec.refs };
    const have = { os: rec.config.os || "linux", architecture: rec.config.architecture || "amd64", ...(rec.config.variant ? { variant: rec.config.variant } : {}) };
    if (!platformMatches(platform, have)) {
      throw new UserError(`image with reference ${name} was found but its platform (${formatPlatform(have)}) does not match the specified platform (${formatPlatform(platform)})`);
    }
    return rec;
  }

  /** Every image the index lists (tagged and dangling), one record per manifest. */
  async listImages(): Promise<ImageRecord[]> {
    const entries = (await readIndex(this.paths)).manifests;
    const out: ImageRecord[] = [];
    for (const digest of manifestDigests(entries)) {
      const mine = entries.filter((d) => d.digest === digest);
      const first = mine[0] as Descriptor;
      out.push(await this.loadRecord(first, mine.flatMap((d) => refNameOf(d) ?? [])));
    }
    return out;
  }

  /**
   * Finds an image as Docker does: `sha256:<id>` by id; a reference by tag (or by manifest digest
   * for `name@sha256:…`); otherwise a 12+ hex id prefix. Throws ImageNotFoundError naming the input.
   */
  async resolveImage(s: string, platform?: PlatformSpec): Promise<ImageRecord> {
    return this.forPlatform(await this.resolveAny(s), platform, s);
  }

  private async resolveAny(s: string): Promise<ImageRecord> {
    const notFound = (): ImageNotFoundError => new ImageNotFoundError(s, `No such image: ${s}`);
    const byTag = await this.byTag(s);
    if (byTag !== undefined) return byTag;
    const images = await this.listImages();
    if (!s.startsWith("sha256:")) {
      const ref = tryParseReference(s);
      if (ref?.digest !== undefined) {
        const hit = images.find((r) => r.manifestDigest === ref.digest || r.configDigest === ref.digest || r.index?.descriptor.digest === ref.digest);
        if (hit) return hit;
        if (await this.has(ref.digest as Digest)) return this.loadUnlisted(ref.digest as Digest, notFound);
        throw notFound();
      }
      if (ref) {
        const hit = images.find((r) => r.refs.includes(ref.full));
        if (hit) return hit;
      }
    }
    // Like Docker, any unambiguous hex prefix names an image once no tag matched (`rmi 95d5`).
    const prefix = idPrefix(s) ?? (/^[a-f0-9]{1,63}$/.test(s) ? s : undefined);
    if (prefix === undefined) {
      if (s.startsWith("sha256:")) throw new ImageReferenceError(s, `invalid image id: ${s}`);
      if (tryParseReference(s) === undefined) parseReference(s); // neither an id nor a reference: say why
      throw notFound();
    }
    // a multi-platform image is also known by its index digest (the id `images` shows for it)
    const matches = images.filter((r) => r.configDigest.slice("sha256:".length).startsWith(prefix) || (r.index?.descriptor.digest.slice("sha256:".length).startsWith(prefix) ?? false));
    const ids = new Set(matches.map((r) => r.configDigest));
    if (ids.size > 1) throw new ImageNotFoundError(s, `image id prefix ${s} is ambiguous (${ids.size} images match)`);
    const tagged = matches.find((r) => r.refs.length > 0);
    const hit = tagged ?? matches[0];
    if (!hit) throw notFound();
    // All tags of that id, across its manifests.
    return { ...hit, refs: matches.flatMap((r) => r.refs) };
  }

  /**
   * The image a plain tag reference (`app:1.0`) points at, from the index alone: every build resolves
   * its FROM images, and listing every image (two blob reads each) grows with the store.
   */
  private async byTag(s: string): Promise<ImageRecord | undefined> {
    if (s.startsWith("sha256:")) return undefined;
    const ref = tryParseReference(s);
    if (ref === undefined || ref.digest !== undefined) return undefined;
    const entries = (await readIndex(this.paths)).manifests;
    const hit = entries.find((d) => refNameOf(d) === ref.full);
    if (hit === undefined) return undefined;
    return this.loadRecord(hit, entries.filter((d) => d.digest === hit.digest).flatMap((d) => refNameOf(d) ?? []));
  }

  /** Blobs reachable from the index (manifests, configs, layers): what a garbage collector keeps. */
  async referencedBlobs(): Promise<Set<Digest>> {
    const keep = new Set<Digest>();
    for (const listed of await this.listImages()) {
      if (listed.index !== undefined) keep.add(listed.index.descriptor.digest);
      for (const rec of await this.platformRecords(listed)) {
        keep.add(rec.manifestDigest);
        keep.add(rec.configDigest);
        for (const l of rec.manifest.layers) keep.add(l.digest);
      }
    }
    return keep;
  }

  /** The manifest, config and layer blobs of one manifest, if stored (what an image a container runs needs). */
  async manifestBlobs(manifest: Digest): Promise<Digest[]> {
    if (!(await this.has(manifest))) return [];
    const m = await this.readJson<Partial<ImageManifest>>(manifest);
    if (m.config === undefined) return [manifest]; // an image index: its platforms' manifests are listed on their own
    return [manifest, m.config.digest, ...(m.layers ?? []).map((l) => l.digest)];
  }

  /** The snapshot chains (chain IDs of every layer) of the images the index lists, every platform's. */
  async imageChains(): Promise<Set<Digest>> {
    const out = new Set<Digest>();
    for (const listed of await this.listImages()) {
      for (const rec of await this.platformRecords(listed)) for (const c of chainIds(rec.config.rootfs.diff_ids)) out.add(c);
    }
    return out;
  }

  /** Takes every index entry of these manifests out of the index; returns the refs they had. */
  async removeManifests(manifests: ReadonlySet<Digest>): Promise<string[]> {
    if (manifests.size === 0) return [];
    return updateIndex(this.paths, (m) => ({
      manifests: m.filter((d) => !manifests.has(d.digest)),
      result: m.filter((d) => manifests.has(d.digest)).flatMap((d) => refNameOf(d) ?? []),
    }));
  }

  private async refsOf(manifestDigest: Digest): Promise<string[]> {
    return (await readIndex(this.paths)).manifests.filter((d) => d.digest === manifestDigest).flatMap((d) => refNameOf(d) ?? []);
  }

  /** A manifest that is in blobs/ but not in the index (`app@sha256:…` after its tag moved on). */
  private async loadUnlisted(d: Digest, notFound: () => Error): Promise<ImageRecord> {
    const m = await this.readJson<unknown>(d).catch((e: unknown) => {
      if (e instanceof SyntaxError) throw notFound();
      throw e;
    });
    if (manifestProblem(m)) throw notFound();
    return this.loadRecord({ mediaType: MediaType.ociManifest, digest: d, size: await this.blobSize(d) }, []);
  }
}

/** Layers of a pulled Docker schema 2 image keep their blobs but get OCI media types in a new OCI manifest. */
function ociLayerType(mediaType: string): string {
  if (mediaType === MediaType.dockerLayerGzip) return MediaType.ociLayerGzip;
  if (mediaType === MediaType.dockerLayer) return MediaType.ociLayer;
  return mediaType;
}

/** A tag reference in its full form; a reference with a digest cannot be a tag. */
export function tagReference(ref: string): string {
  const r = parseReference(ref);
  if (r.digest !== undefined) {
    throw new ImageReferenceError(ref, `refusing to create a tag with a digest reference: ${ref}`);
  }
  return r.full;
}

