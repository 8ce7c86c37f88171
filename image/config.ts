// The OCI image config, manifest and index as Docker/BuildKit write them, media types, chain ids.
import { sha256, type Digest } from "../common/digest.js";

export const MediaType = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayer: "application/vnd.docker.image.rootfs.diff.tar",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  dockerForeignLayerGzip: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
} as const;

export const Annotation = {
  refName: "org.opencontainers.image.ref.name",
  /** Docker 25+/containerd put the full name here in `docker save`'s index.json. */
  containerdImageName: "io.containerd.image.name",
  /** tsbuild's mark on an index entry that keeps an untagged image listed. */
  dangling: "io.tsbuild.dangling",
} as const;

export function isManifestMediaType(t: string | undefined): boolean {
  return t === MediaType.ociManifest || t === MediaType.dockerManifest;
}

export function isIndexMediaType(t: string | undefined): boolean {
  return t === MediaType.ociIndex || t === MediaType.dockerManifestList;
}

export function isGzipLayer(t: string): boolean {
  return t === MediaType.ociLayerGzip || t === MediaType.dockerLayerGzip || t === MediaType.dockerForeignLayerGzip;
}

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
  urls?: string[];
}

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  "os.version"?: string;
}

export interface HealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** The runtime part of the config (Docker's spelling, which OCI adopted). */
export interface ContainerConfig {
  User?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, Record<string, never>> | null;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  Healthcheck?: HealthConfig;
  Shell?: string[];
  OnBuild?: string[] | null;
  ArgsEscaped?: boolean;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  created?: string;
  author?: string;
  config?: ContainerConfig;
  rootfs: { type: "layers"; diff_ids: Digest[] };
  history?: HistoryEntry[];
  /** Other fields Docker writes (container_config, docker_version, comment, …) are kept as they are. */
  [extra: string]: unknown;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

/** The OCI chain id of a layer on `parent` (null: the first layer): chain(1) = diffID(1), chain(n) = sha256(chain(n-1) + " " + diffID(n)). */
export function chainIdOf(parent: Digest | null, diffId: Digest): Digest {
  return parent === null ? diffId : sha256(`${parent} ${diffId}`);
}

/** The OCI chain ids of a list of layers. */
export function chainIds(diffIds: readonly Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const d of diffIds) out.push(chainIdOf(out[out.length - 1] ?? null, d));
  return out;
}

/** The chain id of the whole list (the top layer's), null for none: an image's snapshot chain. */
export function topChainId(diffIds: readonly Digest[]): Digest | null {
  return chainIds(diffIds).at(-1) ?? null;
}

/** Checks the shape of a parsed config well enough to trust rootfs.diff_ids; returns a problem or undefined. */
export function configProblem(v: unknown): string | undefined {
  if (typeof v !== "object" || v === null) return "config is not a JSON object";
  const c = v as Partial<ImageConfig>;
  if (typeof c.rootfs !== "object" || c.rootfs === null || !Array.isArray(c.rootfs.diff_ids)) {
    return "config has no rootfs.diff_ids";
  }
  if (!c.rootfs.diff_ids.every((d) => typeof d === "string" && /^sha256:[a-f0-9]{64}$/.test(d))) {
    return "config has a malformed diff_id";
  }
  return undefined;
}

/** Checks the shape of a parsed manifest; returns a problem or undefined. */
export function manifestProblem(v: unknown): string | undefined {
  if (typeof v !== "object" || v === null) return "manifest is not a JSON object";
  const m = v as Partial<ImageManifest>;
  if (!isDescriptor(m.config)) return "manifest has no valid config descriptor";
  if (!Array.isArray(m.layers) || !m.layers.every(isDescriptor)) return "manifest has an invalid layer descriptor";
  return undefined;
}

export function isDescriptor(v: unknown): v is Descriptor {
  if (typeof v !== "object" || v === null) return false;
  const d = v as Partial<Descriptor>;
  return (
    typeof d.mediaType === "string" &&
    typeof d.digest === "string" &&
    /^sha256:[a-f0-9]{64}$/.test(d.digest) &&
    typeof d.size === "number" &&
    Number.isSafeInteger(d.size) &&
    d.size >= 0
  );
}
