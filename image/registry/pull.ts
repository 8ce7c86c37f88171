// `tsbuild pull`: tag → manifest (an index → the platform's manifest) → config and the layers the
// store lacks, several at once, each verified while it streams into a blob ingest.
//
// Pulled images are kept exactly as the registry has them: the manifest bytes and the compressed
// layer blobs, so the local manifest digest is the registry's (RepoDigests, `images --digests` and
// `name@sha256:…` all agree with the registry, and pushing the image back sends nothing but a HEAD).
// Consumers read layers through runtime/layerblob.ts, which undoes gzip/zstd and checks the diffID.
//
// Nothing half-written stays: downloads land in temporary ingests, which move into blobs/ only once
// every download finished; any failure aborts them all, and the tag is written last.
import { pipeline } from "node:stream/promises";
import type { Digest } from "../../common/digest.js";
import { createLimiter } from "../../common/limit.js";
import { UserError } from "../../common/errors.js";
import { DigestMismatchError } from "../blobs.js";
import type { BlobIngest } from "../blobs.js";
import { MediaType, isIndexMediaType, isManifestMediaType, type Descriptor, type ImageManifest } from "../config.js";
import { parseReference } from "../reference.js";
import type { ContentStore } from "../store.js";
import type { RegistryOptions, RemoteManifest, RepositoryClient } from "./api.js";
import { connectTo, parseRemoteManifest, readRemoteConfig, resolveRemoteImage, type Connect } from "./manifest.js";
import { formatPlatform, platformEntries, type PlatformSpec } from "./platform.js";
import { ProgressTap, shortDigest, type TransferSink } from "./progress.js";
import { PushMemo } from "./pushmemo.js";

export interface PullOptions {
  platform?: PlatformSpec;
  /** `--all-platforms`: every platform's image of an index, and the index under the tag. */
  allPlatforms?: boolean;
  registry?: RegistryOptions;
  onEvent?: TransferSink;
  /** Layers downloaded at once (Docker's default: 3). */
  concurrency?: number;
  connect?: Connect;
}

export interface PullResult {
  /** The normalized reference (`docker.io/library/busybox:latest`, or `name@sha256:…`). */
  ref: string;
  /** As Docker prints it: `busybox:latest`. */
  familiar: string;
  /** What the reference resolves to on the registry (an index for multi-platform tags): Docker's `Digest:`. */
  digest: Digest;
  manifestDigest: Digest;
  imageId: Digest;
  /** False when the image was already here under this reference (`Image is up to date`). */
  changed: boolean;
  /** Layer blobs downloaded. */
  fetched: number;
}

const LAYER_TYPES = new Set<string>([
  MediaType.ociLayer, MediaType.ociLayerGzip, MediaType.ociLayerZstd, MediaType.dockerLayer, MediaType.dockerLayerGzip,
]);

export async function pullImage(store: ContentStore, name: string, options: PullOptions = {}): Promise<PullResult> {
  const ref = parseReference(name);
  const what = `pull ${ref.familiar}`;
  const sink = options.onEvent ?? ((): void => {});
  const client = await connectTo(ref, options.registry, options.connect);
  const tags = ref.digest === undefined ? [ref.full] : [];
  const before = await currentDigest(store, ref.full, tags.length > 0);
  if (options.allPlatforms) {
    const top = await client.getManifest(ref.digest ?? ref.tag ?? "latest");
    const parsed = parseRemoteManifest(top, what);
    if (parsed.kind === "index") {
      let fetched = 0;
      let had = true;
      let first: { manifestDigest: Digest; imageId: Digest } | undefined;
      for (const entry of platformEntries(parsed.index)) {
        const m = await client.getManifest(entry.digest);
        if (m.digest !== entry.digest) throw new DigestMismatchError(entry.digest, m.digest, `${what}: manifest`);
        const inner = parseRemoteManifest(m, what);
        if (inner.kind !== "manifest") throw new UserError(`${what}: the index entry for ${formatPlatform(entry.platform as PlatformSpec)} is itself an index`);
        const one = await fetchImage(store, client, m, inner.manifest, what, sink, options.concurrency ?? 3);
        fetched += one.fetched;
        had &&= one.hadImage;
        first ??= { manifestDigest: one.manifestDesc.digest, imageId: inner.manifest.config.digest };
      }
      if (first === undefined) throw new UserError(`${what}: the image index lists no platform's image`);
      const indexDesc = await store.writeBlob(top.bytes, isIndexMediaType(top.mediaType) ? top.mediaType : MediaType.ociIndex);
      const changed = !had || before !== indexDesc.digest;
      if (changed || tags.length === 0) await store.registerImages([{ manifest: indexDesc, tags }]);
      return { ref: ref.full, familiar: ref.familiar, digest: top.digest, ...first, changed, fetched };
    }
  }
  const resolved = await resolveRemoteImage(client, ref.digest ?? ref.tag ?? "latest", options.platform, what);
  const manifest = resolved.parsed;
  const { manifestDesc, hadImage, fetched } = await fetchImage(store, client, resolved.manifest, manifest, what, sink, options.concurrency ?? 3);
  const changed = !hadImage || (tags.length > 0 && before !== manifestDesc.digest);
  if (changed || tags.length === 0) await store.registerImages([{ manifest: manifestDesc, tags }]);
  return {
    ref: ref.full,
    familiar: ref.familiar,
    digest: resolved.digest,
    manifestDigest: manifestDesc.digest,
    imageId: manifest.config.digest,
    changed,
    fetched,
  };
}

/** One image's config, missing layers and manifest into the store (no index.json change). */
async function fetchImage(
  store: ContentStore, client: RepositoryClient, remote: RemoteManifest, manifest: ImageManifest, what: string, sink: TransferSink, concurrency: number,
): Promise<{ manifestDesc: Descriptor; hadImage: boolean; fetched: number }> {
  for (const l of manifest.layers) {
    if (!LAYER_TYPES.has(l.mediaType)) throw new UserError(`${what}: unsupported layer media type ${l.mediaType}`);
  }
  const manifestDesc: Descriptor = {
    mediaType: isManifestMediaType(remote.mediaType) ? remote.mediaType : (manifest.mediaType ?? MediaType.ociManifest),
    digest: remote.digest,
    size: remote.bytes.length,
  };
  const hadImage = (await store.has(manifestDesc.digest)) && (await hasAll(store, [manifest.config, ...manifest.layers]));

  const config = (await store.has(manifest.config.digest))
    ? { bytes: await store.readBlob(manifest.config.digest) }
    : await readRemoteConfig(client, manifest.config, what);
  const diffIds = (JSON.parse(config.bytes.toString("utf8")) as { rootfs?: { diff_ids?: unknown[] } }).rootfs?.diff_ids ?? [];
  if (diffIds.length !== manifest.layers.length) {
    throw new UserError(`${what}: the manifest lists ${manifest.layers.length} layers but the config has ${diffIds.length} diff_ids`);
  }

  // an image already here says nothing per layer (as Docker's "Image is up to date")
  const fetched = await fetchLayers(store, client, manifest.layers, concurrency, hadImage ? (): void => {} : sink);
  await store.writeBlob(config.bytes, manifest.config.mediaType);
  await store.writeBlob(remote.bytes, manifestDesc.mediaType);
  await rememberRepos(store, client, [manifest.config, ...manifest.layers]);
  return { manifestDesc, hadImage, fetched };
}

async function hasAll(store: ContentStore, descs: Descriptor[]): Promise<boolean> {
  for (const d of descs) if (!(await store.has(d.digest))) return false;
  return true;
}

/** The manifest digest a tag points at in the store now, if any. */
async function currentDigest(store: ContentStore, full: string, isTag: boolean): Promise<Digest | undefined> {
  if (!isTag) return undefined;
  const images = await store.listImages();
  const rec = images.find((r) => r.refs.includes(full));
  return rec?.index?.descriptor.digest ?? rec?.manifestDigest;
}

/** Downloads the missing layers into ingests; moves them into the store only when all arrived. */
async function fetchLayers(store: ContentStore, client: RepositoryClient, layers: Descriptor[], concurrency: number, sink: TransferSink): Promise<number> {
  const missing: Descriptor[] = [];
  const seen = new Set<Digest>();
  for (const l of layers) {
    if (seen.has(l.digest)) continue;
    seen.add(l.digest);
    if (await store.has(l.digest)) sink({ type: "layer", id: shortDigest(l.digest), status: "Already exists" });
    else {
      missing.push(l);
      sink({ type: "layer", id: shortDigest(l.digest), status: "Pulling fs layer" });
    }
  }
  const limit = createLimiter(Math.max(1, concurrency));
  const ingests: BlobIngest[] = [];
  const jobs = missing.map((l) => limit(async () => {
    const ingest = store.ingest({ verified: l.digest }); // openBlob's stream checks the digest as it flows
    ingests.push(ingest);
    await download(client, l, ingest, sink);
    return { layer: l, ingest };
  }));
  const results = await Promise.allSettled(jobs);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  try {
    if (failed) throw failed.reason;
    for (const r of results) {
      const { layer, ingest } = (r as PromiseFulfilledResult<{ layer: Descriptor; ingest: BlobIngest }>).value;
      await ingest.commit(layer.digest);
      sink({ type: "layer", id: shortDigest(layer.digest), status: "Pull complete" });
    }
  } finally {
    for (const i of ingests) await i.abort(); // no-op for committed ones; drops the rest
  }
  return missing.length;
}

async function download(client: RepositoryClient, layer: Descriptor, ingest: BlobIngest, sink: TransferSink): Promise<void> {
  const id = shortDigest(layer.digest);
  const src = await client.openBlob(layer.digest, layer.size);
  await pipeline(src, new ProgressTap(id, layer.size, sink), ingest);
  if (ingest.bytesWritten !== layer.size) {
    throw new UserError(`${client.host}/${client.repository}: blob ${layer.digest} has ${ingest.bytesWritten} bytes, the manifest says ${layer.size}`);
  }
  sink({ type: "layer", id, status: "Download complete" });
}

/** Notes where the blobs came from, so a push to another repository on that host can mount them. */
async function rememberRepos(store: ContentStore, client: RepositoryClient, blobs: Descriptor[]): Promise<void> {
  const memo = await PushMemo.load(store.paths);
  const repo = `${client.host}/${client.repository}`;
  const fresh = blobs.filter((l) => !memo.reposOf(l.digest).includes(repo));
  if (fresh.length > 0) await memo.save({ repos: fresh.map((l): [Digest, string] => [l.digest, repo]) });
}
