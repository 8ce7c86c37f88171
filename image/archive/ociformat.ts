// OCI image layout (a folder or a tar of one): index.json → manifests (through nested indexes,
// choosing this machine's platform) → config and layers, every blob checked against its digest.
import type { Digest } from "../../common/digest.js";
import { digestHex, sha256 } from "../../common/digest.js";
import { ArchiveError } from "../../common/errors.js";
import {
  Annotation, isIndexMediaType, isDescriptor, manifestProblem,
  type Descriptor, type ImageIndex, type ImageManifest,
} from "../config.js";
import { isValidTag, parseReference } from "../reference.js";
import { archiveTag, checkLayerCount, memberFile, parseJson, planConfig, readMember, type PlannedImage, type PlannedLayer } from "./plan.js";

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
  for (const top of index.manifests) {
    const desc = await pickManifest(dir, top, file);
    const tag = tagOf(top, file, defaultName);
    const known = byManifest.get(desc.digest);
    if (known) {
      if (tag !== undefined && !known.tags.includes(tag)) known.tags.push(tag);
      continue;
    }
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
    byManifest.set(desc.digest, { configBytes, configDigest: digest, config, layers, tags: tag === undefined ? [] : [tag] });
  }
  return [...byManifest.values()];
}
