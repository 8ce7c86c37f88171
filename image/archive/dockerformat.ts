// docker-archive (`docker save`): manifest.json lists each image's config, layer files and RepoTags.
import { basename } from "node:path";
import type { Digest } from "../../common/digest.js";
import { ArchiveError } from "../../common/errors.js";
import { archiveTag, checkLayerCount, memberFile, parseJson, planConfig, readMember, type PlannedImage } from "./plan.js";

interface DockerManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

function isEntry(v: unknown): v is DockerManifestEntry {
  if (typeof v !== "object" || v === null) return false;
  const e = v as Partial<DockerManifestEntry>;
  return (
    typeof e.Config === "string" &&
    Array.isArray(e.Layers) && e.Layers.every((l) => typeof l === "string") &&
    (e.RepoTags === undefined || e.RepoTags === null || (Array.isArray(e.RepoTags) && e.RepoTags.every((t) => typeof t === "string")))
  );
}

/** The digest a member's file name claims (`blobs/sha256/<hex>` or `<hex>.json`), if any. */
function digestInName(path: string): Digest | undefined {
  const m = /^([a-f0-9]{64})(?:\.json)?$/.exec(basename(path));
  return m ? (`sha256:${m[1]}` as Digest) : undefined;
}

export async function planDockerArchive(dir: string, file: string): Promise<PlannedImage[]> {
  const manifest = parseJson<unknown>(await readMember(dir, "manifest.json", file), "manifest.json", file);
  if (!Array.isArray(manifest) || !manifest.every(isEntry)) {
    throw new ArchiveError(`${file}: manifest.json is not a docker-archive manifest`);
  }
  const images: PlannedImage[] = [];
  for (const entry of manifest) {
    const what = `config ${entry.Config}`;
    const bytes = await readMember(dir, entry.Config, file);
    const { config, digest } = planConfig(bytes, digestInName(entry.Config), what, file);
    const layers = [];
    for (const [i, rel] of entry.Layers.entries()) {
      const diffId = config.rootfs.diff_ids[i];
      if (diffId === undefined) break;
      layers.push({ path: await memberFile(dir, rel, file), diffId, what: `${file}: layer ${rel}` });
    }
    const img: PlannedImage = {
      configBytes: bytes,
      configDigest: digest,
      config,
      layers,
      tags: (entry.RepoTags ?? []).map((t) => archiveTag(t, file)),
    };
    checkLayerCount({ layers: entry.Layers, config }, `image ${entry.Config}`, file);
    images.push(img);
  }
  return images;
}
