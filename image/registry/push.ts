// `tsbuild push`: the layers the registry lacks (gzipped in parallel when stored uncompressed), then
// the config, then the manifest. An image pulled as it is goes back byte for byte (same manifest
// digest); any other is pushed as an OCI manifest with gzip layers and the same config (same image id).
import { sha256, type Digest } from "../../common/digest.js";
import { ImageNotFoundError, UserError } from "../../common/errors.js";
import { createLimiter, settleAll } from "../../common/limit.js";
import { MediaType, type Descriptor, type ImageIndex, type ImageManifest } from "../config.js";
import { parseReference } from "../reference.js";
import type { ContentStore, ImageRecord } from "../store.js";
import type { BlobPushResult, RegistryOptions, RepositoryClient } from "./api.js";
import { connectTo, type Connect } from "./manifest.js";
import { shortDigest, type TransferSink } from "./progress.js";
import { compressedLayerType, mountSource, pushLayer, type PushedLayer } from "./pushlayer.js";
import { PushMemo } from "./pushmemo.js";
import { preloadFor } from "../../common/netfetch.js";
import { registryBaseUrl } from "./transport.js";

export interface PushOptions {
  registry?: RegistryOptions;
  onEvent?: TransferSink;
  /** Layers compressed and uploaded at once (default 3). */
  concurrency?: number;
  connect?: Connect;
}

export interface PushResult {
  ref: string;
  /** `host/path` as Docker's "The push refers to repository [...]" names it. */
  repository: string;
  tag: string;
  digest: Digest;
  size: number;
  /** How many layer blobs were sent (not skipped or mounted). */
  uploaded: number;
}

export async function pushImage(store: ContentStore, name: string, options: PushOptions = {}): Promise<PushResult> {
  const ref = parseReference(name);
  if (ref.digest !== undefined) throw new UserError(`push ${name}: cannot push a digest reference`);
  const tag = ref.tag ?? "latest";
  const resolved = store.resolveImage(ref.full).catch((e: unknown) => {
    if (e instanceof ImageNotFoundError) throw new UserError(`An image does not exist locally with the tag: ${ref.familiar}`);
    throw e;
  });
  const loaded = PushMemo.load(store.paths);
  // node:http (a loopback or insecure registry's) is compiled while those reads are on the thread pool, not after them
  if (options.connect === undefined) preloadFor(new URL(registryBaseUrl(ref.domain, options.registry?.insecureHosts)));
  const [rec, memo] = await settleAll<ImageRecord | PushMemo>([resolved, loaded]) as [ImageRecord, PushMemo];
  const sink = options.onEvent ?? ((): void => {});
  const client = await connectTo(ref, options.registry, options.connect);
  if (rec.index !== undefined) return pushIndex(store, rec, client, memo, sink, options, ref.full, `${ref.domain}/${ref.path}`, tag);
  const one = await pushManifest(store, rec, client, memo, sink, options, tag);
  return { ref: ref.full, repository: `${ref.domain}/${ref.path}`, tag, ...one };
}

/**
 * A multi-platform image: each platform's image by its digest, then the index under the tag (as
 * stored when every manifest went as stored, else a new OCI index naming what was pushed).
 */
async function pushIndex(
  store: ContentStore, rec: ImageRecord, client: RepositoryClient, memo: PushMemo, sink: TransferSink, options: PushOptions,
  full: string, repository: string, tag: string,
): Promise<PushResult> {
  const index = rec.index as NonNullable<ImageRecord["index"]>;
  const manifests: Descriptor[] = [];
  let uploaded = 0;
  let same = true;
  for (const child of await store.platformRecords(rec)) {
    const pushed = await pushManifest(store, child, client, memo, sink, options, undefined);
    uploaded += pushed.uploaded;
    const entry = index.index.manifests.find((d) => d.digest === child.manifestDigest);
    if (pushed.digest !== child.manifestDigest) same = false;
    manifests.push({ mediaType: pushed.mediaType, digest: pushed.digest, size: pushed.size, ...(entry?.platform ? { platform: entry.platform } : {}) });
  }
  const complete = manifests.length === index.index.manifests.length;
  const bytes = same && complete
    ? await store.readBlob(index.descriptor.digest)
    : Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests } satisfies ImageIndex), "utf8");
  const mediaType = same && complete ? index.descriptor.mediaType : MediaType.ociIndex;
  const digest = await client.putManifest(tag, mediaType, bytes);
  return { ref: full, repository, tag, digest, size: bytes.length, uploaded };
}

/** One image: its layers, config and manifest (under `tag`, or by its digest when undefined). */
async function pushManifest(
  store: ContentStore, rec: ImageRecord, client: RepositoryClient, memo: PushMemo, sink: TransferSink, options: PushOptions, tag: string | undefined,
): Promise<{ digest: Digest; size: number; mediaType: string; uploaded: number }> {
  const ref = { familiar: rec.refs[0] ?? rec.manifestDigest };
  const layers = rec.manifest.layers;
  const diffIds = rec.config.rootfs.diff_ids;
  if (diffIds.length !== layers.length) throw new UserError(`push ${ref.familiar}: the image's config lists ${diffIds.length} diff_ids for ${layers.length} layers`);
  for (const l of layers) sink({ type: "layer", id: shortDigest(l.digest), status: "Preparing" });

  const limit = createLimiter(Math.max(1, options.concurrency ?? 3));
  const configDesc = rec.manifest.config;
  const configFrom = mountSource(memo, client, configDesc.digest);
  // the config goes beside the layers (the manifest only needs every blob there): its HEAD is sent with
  // theirs, not after them (a push of blobs the registry has: one round trip less)
  const config = client.pushBlob(
    { digest: configDesc.digest, size: configDesc.size, mediaType: configDesc.mediaType },
    () => store.openBlob(configDesc.digest),
    configFrom !== undefined ? { mountFrom: configFrom } : {},
  );
  const [pushed] = await settleAll<PushedLayer[] | BlobPushResult>([
    settleAll(layers.map((l, i) => limit(() => pushLayer(store, client, memo, l, diffIds[i] as Digest, sink)))),
    config,
  ]) as [PushedLayer[], BlobPushResult];

  // as stored when every layer already is a compressed blob (a pulled image); otherwise a new OCI manifest
  const asStored = layers.every((l) => compressedLayerType(l.mediaType) !== undefined);
  let mediaType = rec.manifestDescriptor.mediaType;
  let bytes = await store.readBlob(rec.manifestDigest);
  if (!asStored) {
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: configDesc.digest, size: configDesc.size },
      layers: pushed.map((p) => ({ mediaType: p.blob.mediaType, digest: p.blob.digest, size: p.blob.size })),
    };
    mediaType = MediaType.ociManifest;
    bytes = Buffer.from(JSON.stringify(manifest), "utf8");
  }
  const digest = await client.putManifest(tag ?? sha256(bytes), mediaType, bytes);
  const repo = `${client.host}/${client.repository}`;
  await memo.save({
    compressed: pushed.flatMap((p) => (p.learned ? [p.learned] : [])),
    repos: [...pushed.map((p): [Digest, string] => [p.blob.digest, repo]), [configDesc.digest, repo]],
  });
  return { digest, size: bytes.length, mediaType, uploaded: pushed.filter((p) => p.result === "uploaded").length };
}
