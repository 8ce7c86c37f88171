// OCI image layout (a folder or a tar of one): index.json → manifests (through nested indexes,
// choosing this machine's platform) → config and layers, every blob checked against its digest.
import type { Digest } from "../../common/digest.js";
import { digestHex, sha256 } from "../../common/digest.js";
import { ArchiveError } from "../../common/errors.js";
import {
  Annotation, isIndexMediaType, isDescriptor, isManifestMediaType, manifestProblem,
  type Descriptor, type ImageIndex, type ImageManifest, type Platform,
} from "../config.js";
import { pathExists } from "../../common/fsutil.js";
import { isValidTag, parseReference } from "../reference.js";
import { archiveTag, checkLayerCount, memberFile, memberPath, parseJson, planConfig, readMember, type IndexGroup, type PlannedImage, type PlannedLayer } from "./plan.js";

export function hostPlatform(): { os: string; architecture: string } {
  const arch: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64" };
  return { os: "linux", architecture: arch[process.arch] ?? process.arch };
}

function blobRel(d: Digest): string {
  return `blobs/sha256/${digestHex(d)}`;
}

async function readVerified(dir: string, desc: Descriptor, what: string, file: string): Promise<Buffer> {
  const bytes = await readMember(dir, blobRel(desc.digest), file);
  const actual = sha256(bytes);
  if (actual !== desc.digest) throw new ArchiveError(`${file}: ${what}: digest mismatch: expected ${desc.digest}, got ${actual}`);
  if (bytes.length !== desc.size) throw new ArchiveError(`${file}: ${what}: size ${bytes.length} differs from its descriptor's ${desc.size}`);
  return bytes;
}

/** The tag an index entry carries: a full reference, or a short ref.name with containerd's full name. */
export function tagOf(desc: Descriptor, file: string, defaultName?: string): string | undefined {
  const refName = desc.annotations?.[Annotation.refName];
  const fullName = desc.annotations?.[Annotation.containerdImageName];
  if (fullName !== undefined) return archiveTag(fullName, file);
  if (refName === undefined) return undefined;
  if (!refName.includes("/") && !refName.includes(":")) {
    if (!isValidTag(refName)) throw new ArchiveError(`${file}: invalid ref.name ${JSON.stringify(refName)} in index.json`);
    // A bare tag (`latest`), as skopeo writes: it needs a repository name to become a tag.
    return defaultName !== undefined ? archiveTag(`${parseReference(defaultName).name}:${refName}`, file) : undefined;
  }
  return archiveTag(refName, file);
}

async function pickManifest(dir: string, desc: Descriptor, file: string, depth = 0): Promise<Descriptor> {
  if (!isIndexMediaType(desc.mediaType)) return desc;
  if (depth > 4) throw new ArchiveError(`${file}: image indexes nested too deeply`);
  const index = parseJson<ImageIndex>(await readVerified(dir, desc, `index ${desc.digest}`, file), `index ${desc.digest}`, file);
  const entries = (Array.isArray(index.manifests) ? index.manifests : []).filter(isDescriptor);
  const want = hostPlatform();
  const match =
    entries.find((d) => d.platform?.os === want.os && d.platform.architecture === want.architecture) ??
    entries.find((d) => d.platform === undefined);
  if (!match) throw new ArchiveError(`${file}: no image for ${want.os}/${want.architecture} in index ${desc.digest}`);
  return pickManifest(dir, match, file, depth + 1);
}

export async function planOciLayout(dir: string, file: string, defaultName?: string): Promise<PlannedImage[]> {
  const index = parseJson<ImageIndex>(await readMember(dir, "index.json", file), "index.json", file);
  if (typeof index !== "object" || index === null || !Array.isArray(index.manifests) || !index.manifests.every(isDescriptor)) {
    throw new ArchiveError(`${file}: index.json is not an OCI image index`);
  }
  const byManifest = new Map<Digest, PlannedImage>();
  const groups = new Map<Digest, IndexGroup>();
  for (const top of index.manifests) {
    const tag = tagOf(top, file, defaultName);
    const known = groups.get(top.digest);
    if (known) {
      if (tag !== undefined && !known.tags.includes(tag)) known.tags.push(tag);
      continue;
    }
    const children = await platformChildren(dir, top, file);
    if (children.length >= 2) {
      // a multi-platform image whose platforms are all here: loaded as an index of its own
      const group: IndexGroup = { key: top.digest, tags: tag === undefined ? [] : [tag] };
      groups.set(top.digest, group);
      for (const child of children) {
        const img = await planImage(dir, child, file);
        byManifest.set(`${top.digest}/${child.digest}` as Digest, { ...img, group: { index: group, platform: child.platform as Platform } });
      }
      continue;
    }
    const desc = await pickManifest(dir, top, file);
    const same = byManifest.get(desc.digest);
    if (same) {
      if (tag !== undefined && !same.tags.includes(tag)) same.tags.push(tag);
      continue;
    }
    byManifest.set(desc.digest, { ...(await planImage(dir, desc, file)), tags: tag === undefined ? [] : [tag] });
  }
  return [...byManifest.values()];
}

/** The platform entries of an index entry whose manifests the archive holds (none for a manifest entry). */
async function platformChildren(dir: string, top: Descriptor, file: string): Promise<Descriptor[]> {
  if (!isIndexMediaType(top.mediaType)) return [];
  const index = parseJson<ImageIndex>(await readVerified(dir, top, `index ${top.digest}`, file), `index ${top.digest}`, file);
  const entries = (Array.isArray(index.manifests) ? index.manifests : []).filter(isDescriptor)
    .filter((d) => isManifestMediaType(d.mediaType) && d.platform !== undefined && d.platform.os !== "unknown" && d.platform.architecture !== "unknown");
  const present: Descriptor[] = [];
  for (const d of entries) {
    if (await pathExists(await memberPath(dir, blobRel(d.digest)))) present.push(d);
  }
  return present.length === entries.length ? present : [];
}

async function planImage(dir: string, desc: Descriptor, file: string): Promise<PlannedImage> {
  {
    const what = `manifest ${desc.digest}`;
    const manifest = parseJson<ImageManifest>(await readVerified(dir, desc, what, file), what, file);
    const problem = manifestProblem(manifest);
    if (problem) throw new ArchiveError(`${file}: ${what}: ${problem}`);
    const configBytes = await readVerified(dir, manifest.config, `config ${manifest.config.digest}`, file);
    const { config, digest } = planConfig(configBytes, manifest.config.digest, `config ${manifest.config.digest}`, file);
    checkLayerCount({ layers: manifest.layers, config }, what, file);
    const layers: PlannedLayer[] = [];
    for (const [i, l] of manifest.layers.entries()) {
      layers.push({
        path: await memberFile(dir, blobRel(l.digest), file),
        rawDigest: l.digest,
        rawSize: l.size,
        diffId: config.rootfs.diff_ids[i] as Digest,
        what: `${file}: layer ${l.digest}`,
      });
    }
    return { configBytes, configDigest: digest, config, layers, tags: [] };
  }
}
