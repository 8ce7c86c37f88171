// `tsbuild commit CONTAINER [NAME]`: a new image = the container's image + its writable layer as one
// more layer (uncompressed, so digest = diffID), with the container's config (changed by -c CMD/ENV/…),
// as `docker commit`.
import { storePaths } from "../../common/storepaths.js";
import { MediaType, type Descriptor, type ImageConfig } from "../../image/config.js";
import { ContentStore, tagReference } from "../../image/store.js";
import { findContainer, writableLayer } from "../../runtime/containers.js";
import { writeLayerTar } from "../../runtime/layer/index.js";

export async function runCommit(root: string, container: string, name: string | undefined, opts: { message?: string; author?: string; change?: string[] }): Promise<void> {
  const paths = storePaths(root);
  if (name !== undefined) tagReference(name); // a bad name fails before anything is written
  const rec = await findContainer(paths, container);
  const { applyChanges } = await import("../../builder/changes.js");
  const runConfig = (opts.change ?? []).length > 0 ? await applyChanges(opts.change ?? [], rec.config) : rec.config;
  const store = await ContentStore.open(paths);
  const base = await store.loadRecord({ mediaType: MediaType.ociManifest, digest: rec.manifestDigest, size: await store.blobSize(rec.manifestDigest) }, []);
  const ingest = store.ingest();
  let layer: Descriptor;
  try {
    await writeLayerTar(writableLayer(paths, rec).upper, ingest);
    const { digest, size } = await ingest.commit();
    layer = { mediaType: MediaType.ociLayer, digest, size };
  } catch (e) {
    await ingest.abort();
    throw e;
  }
  const created = new Date().toISOString();
  const entry = {
    created,
    created_by: [rec.path, ...rec.args].join(" "),
    ...(opts.author ? { author: opts.author } : {}),
    ...(opts.message ? { comment: opts.message } : {}),
  };
  const config: ImageConfig = {
    ...base.config,
    created,
    ...(opts.author ? { author: opts.author } : {}),
    config: runConfig,
    rootfs: { type: "layers", diff_ids: [...base.config.rootfs.diff_ids, layer.digest] },
    history: [...(base.config.history ?? []), entry],
  };
  const image = await store.putImage(config, [...base.manifest.layers, layer], name !== undefined ? [name] : []);
  process.stdout.write(`${image.configDigest}\n`);
}
