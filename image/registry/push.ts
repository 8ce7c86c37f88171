// `tsbuild push`: the layers the registry lacks (gzipped in parallel when stored uncompressed), then
// the config, then the manifest. An image pulled as it is goes back byte for byte (same manifest
// digest); any other is pushed as an OCI manifest with gzip layers and the same config (same image id).
import type { Digest } from "../../common/digest.js";
import { ImageNotFoundError, UserError } from "../../common/errors.js";
import { createLimiter, settleAll } from "../../common/limit.js";
import { MediaType, type ImageManifest } from "../config.js";
import { parseReference } from "../reference.js";
import type { ContentStore } from "../store.js";
import type { RegistryOptions } from "./api.js";
import { connectTo, type Connect } from "./manifest.js";
import { shortDigest, type TransferSink } from "./progress.js";
import { compressedLayerType, mountSource, pushLayer } from "./pushlayer.js";
import { PushMemo } from "./pushmemo.js";

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
  const rec = await store.resolveImage(ref.full).catch((e: unknown) => {
    if (e instanceof ImageNotFoundError) throw new UserError(`An image does not exist locally with the tag: ${ref.familiar}`);
    throw e;
  });
  const sink = options.onEvent ?? ((): void => {});
  const client = await connectTo(ref, options.registry, options.connect);
  const memo = await PushMemo.load(store.paths);
  const layers = rec.manifest.layers;
  const diffIds = rec.config.rootfs.diff_ids;
  if (diffIds.length !== layers.length) throw new UserError(`push ${ref.familiar}: the image's config lists ${diffIds.length} diff_ids for ${layers.length} layers`);
  for (const l of layers) sink({ type: "layer", id: shortDigest(l.digest), status: "Preparing" });

  const limit = createLimiter(Math.max(1, options.concurrency ?? 3));
  const pushed = await settleAll(layers.map((l, i) => limit(() => pushLayer(store, client, memo, l, diffIds[i] as Digest, sink))));
  const configDesc = rec.manifest.config;
  const configFrom = mountSource(memo, client, configDesc.digest);
  await client.pushBlob(
    { digest: configDesc.digest, size: configDesc.size, mediaType: configDesc.mediaType },
    () => store.openBlob(configDesc.digest),
    configFrom !== undefined ? { mountFrom: configFrom } : {},
  );

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
  const digest = await client.putManifest(tag, mediaType, bytes);
  const repo = `${client.host}/${client.repository}`;
  await memo.save({
    compressed: pushed.flatMap((p) => (p.learned ? [p.learned] : [])),
    repos: [...pushed.map((p): [Digest, string] => [p.blob.digest, repo]), [configDesc.digest, repo]],
  });
  return {
    ref: ref.full,
    repository: `${ref.domain}/${ref.path}`,
    tag,
    digest,
    size: bytes.length,
    uploaded: pushed.filter((p) => p.result === "uploaded").length,
  };
}
