// Remote manifests: telling an index from an image manifest, resolving a reference to the manifest
// of one platform, and `tsbuild manifest inspect` (the JSON as the registry has it, like Docker's).
import { sha256, type Digest } from "../../common/digest.js";
import { UserError } from "../../common/errors.js";
import { DigestMismatchError } from "../blobs.js";
import {
  configProblem, isIndexMediaType, isManifestMediaType, manifestProblem, MediaType,
  type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest, type Platform,
} from "../config.js";
import type { ImageRef } from "../reference.js";
import type { RegistryOptions, RemoteManifest, RepositoryClient } from "./api.js";
import { DEFAULT_PLATFORM, formatPlatform, platformEntries, selectPlatform, type PlatformSpec } from "./platform.js";

/** How pull, push and inspect reach a repository; tests pass fakes and counting wrappers. */
export type Connect = (ref: { domain: string; path: string }, options?: RegistryOptions) => RepositoryClient;

/** The repository of `ref`, through `connect` or the registry client (loaded on first use). */
export async function connectTo(ref: ImageRef, options: RegistryOptions | undefined, connect: Connect | undefined): Promise<RepositoryClient> {
  if (connect) return connect({ domain: ref.domain, path: ref.path }, options);
  const { openRepository } = await import("./client.js");
  return openRepository({ domain: ref.domain, path: ref.path }, options);
}

export type ParsedRemote = { kind: "index"; index: ImageIndex } | { kind: "manifest"; manifest: ImageManifest };

/** Reads a fetched manifest as an index or an image manifest (by Content-Type, else by its own fields). */
export function parseRemoteManifest(m: RemoteManifest, what: string): ParsedRemote {
  let json: unknown;
  try {
    json = JSON.parse(m.bytes.toString("utf8"));
  } catch {
    throw new UserError(`${what}: the registry sent a manifest that is not JSON`);
  }
  if (typeof json !== "object" || json === null) throw new UserError(`${what}: the registry sent a malformed manifest`);
  const declared = (json as { mediaType?: unknown }).mediaType;
  const type = isIndexMediaType(m.mediaType) || isManifestMediaType(m.mediaType) ? m.mediaType : typeof declared === "string" ? declared : undefined;
  const looksLikeIndex = Array.isArray((json as { manifests?: unknown }).manifests);
  if (isIndexMediaType(type) || (type === undefined && looksLikeIndex)) {
    if (!looksLikeIndex) throw new UserError(`${what}: the registry sent an index without manifests`);
    return { kind: "index", index: json as ImageIndex };
  }
  if (type !== undefined && !isManifestMediaType(type)) {
    throw new UserError(`${what}: unsupported manifest media type ${type}`);
  }
  const problem = manifestProblem(json);
  if (problem) throw new UserError(`${what}: ${problem}`);
  return { kind: "manifest", manifest: json as ImageManifest };
}

export interface ResolvedImage {
  /** What the reference points at: an index's digest for a multi-platform tag (Docker prints this one). */
  digest: Digest;
  /** The image manifest of the chosen platform, exactly as the registry sent it. */
  manifest: RemoteManifest;
  parsed: ImageManifest;
  /** The platform entry it was chosen by, when the reference named an index. */
  platform?: Platform;
}

/** Resolves a tag or digest to one image manifest (through an index by `platform`). */
export async function resolveRemoteImage(
  client: RepositoryClient,
  reference: string,
  platform: PlatformSpec = DEFAULT_PLATFORM,
  what = `${client.host}/${client.repository}:${reference}`,
): Promise<ResolvedImage> {
  const top = await client.getManifest(reference);
  const parsed = parseRemoteManifest(top, what);
  if (parsed.kind === "manifest") return { digest: top.digest, manifest: top, parsed: parsed.manifest };
  const entry = selectPlatform(parsed.index, platform, what);
  const m = await client.getManifest(entry.digest);
  if (m.digest !== entry.digest) throw new DigestMismatchError(entry.digest, m.digest, `${what}: manifest`);
  const inner = parseRemoteManifest(m, what);
  if (inner.kind !== "manifest") throw new UserError(`${what}: the index entry for ${formatPlatform(platform)} is itself an index`);
  return { digest: top.digest, manifest: m, parsed: inner.manifest, ...(entry.platform ? { platform: entry.platform } : {}) };
}

/** Reads a small blob (a config) into memory, refusing more than `limit` bytes; checks its digest. */
export async function readRemoteBlob(client: RepositoryClient, desc: Descriptor, limit = 8 << 20): Promise<Buffer> {
  if (desc.size > limit) throw new UserError(`${client.host}/${client.repository}: blob ${desc.digest} is too large (${desc.size} bytes)`);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of await client.openBlob(desc.digest, desc.size)) {
    total += (chunk as Buffer).length;
    if (total > limit) throw new UserError(`${client.host}/${client.repository}: blob ${desc.digest} is larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  const buf = Buffer.concat(chunks);
  const actual = sha256(buf);
  if (actual !== desc.digest) throw new DigestMismatchError(desc.digest, actual);
  return buf;
}

/** Reads and checks an image config. */
export async function readRemoteConfig(client: RepositoryClient, desc: Descriptor, what: string): Promise<{ bytes: Buffer; config: ImageConfig }> {
  const bytes = await readRemoteBlob(client, desc);
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new UserError(`${what}: the image config is not JSON`);
  }
  const problem = configProblem(json);
  if (problem) throw new UserError(`${what}: ${problem}`);
  return { bytes, config: json as ImageConfig };
}

/** Docker's `manifest inspect` indents with tabs. */
function pretty(v: unknown): string {
  return JSON.stringify(v, null, "\t");
}

/**
 * `tsbuild manifest inspect`: the manifest or index JSON; with `verbose`, one entry per platform
 * ({Ref, Descriptor with platform, SchemaV2Manifest or OCIManifest}) as `docker manifest inspect -v` prints.
 */
export async function inspectManifest(client: RepositoryClient, reference: string, repoName: string, verbose: boolean): Promise<string> {
  const what = `manifest inspect ${repoName}`;
  const top = await client.getManifest(reference);
  const parsed = parseRemoteManifest(top, what);
  const json: unknown = JSON.parse(top.bytes.toString("utf8"));
  if (!verbose) return pretty(json);
  if (parsed.kind === "manifest") {
    const { config } = await readRemoteConfig(client, parsed.manifest.config, what);
    const platform: Platform = { architecture: config.architecture, os: config.os, ...(config.variant ? { variant: config.variant } : {}) };
    return pretty(verboseEntry(repoName, { mediaType: top.mediaType, digest: top.digest, size: top.bytes.length, platform }, parsed.manifest));
  }
  const out: unknown[] = [];
  for (const entry of platformEntries(parsed.index)) {
    const m = await client.getManifest(entry.digest);
    const inner = parseRemoteManifest(m, what);
    if (inner.kind !== "manifest") continue;
    out.push(verboseEntry(repoName, entry, inner.manifest));
  }
  return pretty(out);
}

function verboseEntry(repo: string, descriptor: Descriptor, manifest: ImageManifest): Record<string, unknown> {
  const isOci = descriptor.mediaType === MediaType.ociManifest;
  return {
    Ref: `${repo}@${descriptor.digest}`,
    Descriptor: descriptor,
    [isOci ? "OCIManifest" : "SchemaV2Manifest"]: manifest,
  };
}
