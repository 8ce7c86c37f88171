// The registry client: one repository on one registry (OCI distribution v2 API), implementing the
// RepositoryClient contract of api.ts over RegistryTransport (auth, retries, redirects, errors).
import type { Readable } from "node:stream";
import { isDigest, sha256, type Digest } from "../../common/digest.js";
import type { NetResponse } from "../../common/netresponse.js";
import { DigestMismatchError } from "../blobs.js";
import {
  RegistryError,
  type BlobPushResult,
  type RegistryOptions,
  type RemoteDescriptor,
  type RemoteManifest,
  type RepositoryClient,
} from "./api.js";
import { pullScope, pushScope } from "./auth.js";
import { verifiedBlobStream } from "./blobread.js";
import { blobExists, pushBlob } from "./upload.js";
import { RegistryTransport } from "./transport.js";

export const MANIFEST_MEDIA_TYPES = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
] as const;

const ACCEPT_MANIFESTS = MANIFEST_MEDIA_TYPES.join(", ");
/** Manifests are small; refuse to buffer anything bigger than this. */
const MANIFEST_MAX_BYTES = 8 * 1024 * 1024;

class Repository implements RepositoryClient {
  constructor(
    private readonly t: RegistryTransport,
    readonly repository: string,
  ) {}

  get host(): string {
    return this.t.host;
  }

  private target(reference: string): string {
    return `${this.t.host}/${this.repository}${isDigest(reference) ? "@" : ":"}${reference}`;
  }

  async getManifest(reference: string): Promise<RemoteManifest> {
    const target = this.target(reference);
    const res = await this.t.request({
      method: "GET", url: `/v2/${this.repository}/manifests/${reference}`, scopes: [pullScope(this.repository)],
      headers: { accept: ACCEPT_MANIFESTS }, target, kind: "manifest",
    });
    const declared = Number(res.headers.get("content-length") ?? "0");
    if (declared > MANIFEST_MAX_BYTES) {
      res.discard();
      throw new RegistryError("manifest too large", res.status, `${target}: ${declared} bytes`);
    }
    const bytes = await res.buffer();
    if (bytes.length > MANIFEST_MAX_BYTES) throw new RegistryError("manifest too large", res.status, `${target}: ${bytes.length} bytes`);
    const digest = sha256(bytes);
    if (isDigest(reference) && digest !== reference) throw new DigestMismatchError(reference, digest, `manifest ${target}`);
    const claimed = res.headers.get("docker-content-digest");
    if (claimed && isDigest(claimed) && claimed !== digest) throw new DigestMismatchError(claimed, digest, `manifest ${target}`);
    return { mediaType: manifestMediaType(res.headers.get("content-type"), bytes), digest, bytes };
  }

  async listTags(): Promise<string[]> {
    const tags: string[] = [];
    let url: string | undefined = `/v2/${this.repository}/tags/list?n=1000`;
    for (let page = 0; url !== undefined && page < 1000; page++) {
      const res = await this.t.request({
        method: "GET", url, scopes: [pullScope(this.repository)], target: `${this.t.host}/${this.repository}`, kind: "manifest",
      });
      const body = (await res.json()) as { tags?: unknown };
      if (body.tags !== null && body.tags !== undefined && !Array.isArray(body.tags)) {
        throw new RegistryError("bad tag list", res.status, `${this.t.host}/${this.repository}: tags is not a list`);
      }
      for (const t of (body.tags as unknown[] | null | undefined) ?? []) if (typeof t === "string") tags.push(t);
      // `Link: </v2/name/tags/list?last=x&n=1000>; rel="next"` while there are more pages
      url = /<([^>]+)>;\s*rel="?next"?/.exec(res.headers.get("link") ?? "")?.[1];
    }
    return [...new Set(tags)].sort();
  }

  async headManifest(reference: string): Promise<RemoteDescriptor | undefined> {
    const res = await this.t.request({
      method: "HEAD", url: `/v2/${this.repository}/manifests/${reference}`, scopes: [pullScope(this.repository)],
      headers: { accept: ACCEPT_MANIFESTS }, target: this.target(reference), kind: "manifest", accept: [404],
    });
    res.discard();
    if (res.status === 404) return undefined;
    const claimed = res.headers.get("docker-content-digest");
    const length = res.headers.get("content-length");
    if (!claimed || !isDigest(claimed) || length === null) {
      // Not every registry says the digest on HEAD: fetch the manifest and hash it.
      const m = await this.getManifest(reference);
      return { digest: m.digest, size: m.bytes.length, mediaType: m.mediaType };
    }
    if (isDigest(reference) && claimed !== reference) throw new DigestMismatchError(reference, claimed, `manifest ${this.target(reference)}`);
    const contentType = res.headers.get("content-type")?.split(";")[0]?.trim();
    return { digest: claimed, size: Number(length), ...(contentType ? { mediaType: contentType } : {}) };
  }

  async putManifest(reference: string, mediaType: string, bytes: Buffer): Promise<Digest> {
    const digest = sha256(bytes);
    if (isDigest(reference) && reference !== digest) throw new DigestMismatchError(reference, digest, "manifest to push");
    const res = await this.t.request({
      method: "PUT", url: `/v2/${this.repository}/manifests/${reference}`, scopes: [pushScope(this.repository)],
      headers: { "content-type": mediaType }, body: () => new Uint8Array(bytes), target: this.target(reference), kind: "manifest",
    });
    res.discard();
    return digest;
  }

  hasBlob(digest: Digest): Promise<boolean> {
    return blobExists(this.t, this.repository, digest, [pullScope(this.repository)]);
  }

  async openBlob(digest: Digest, size?: number): Promise<Readable> {
    const target = `${this.t.host}/${this.repository}@${digest}`;
    const get = (range?: string): Promise<NetResponse> => this.t.request({
      method: "GET", url: `/v2/${this.repository}/blobs/${digest}`, scopes: [pullScope(this.repository)],
      // Blob bytes are hashed as stored: no transfer compression that fetch would undo.
      headers: { "accept-encoding": "identity", ...(range ? { range } : {}) }, target, kind: "blob",
    });
    const res = await get();
    const body = res.stream();
    if (body === null) throw new RegistryError("blob unknown", res.status, `${target}: empty response`);
    // A connection broken mid-layer resumes where it stopped, when the registry answers Range with 206.
    const resume = async (offset: number): Promise<Readable | undefined> => {
      const rest = await get(`bytes=${offset}-`);
      const restBody = rest.status === 206 ? rest.stream() : null;
      if (restBody !== null) return restBody;
      rest.discard();
      return undefined;
    };
    return verifiedBlobStream(body, digest, size, `${this.t.host}/${this.repository}`, this.t.host,
      { open: resume, retries: this.t.retries });
  }

  pushBlob(
    blob: RemoteDescriptor,
    open: () => Readable,
    options?: { mountFrom?: string; chunkSize?: number },
  ): Promise<BlobPushResult> {
    return pushBlob(this.t, this.repository, blob, open, options);
  }
}

/** The response's Content-Type when it names a manifest type, else the document's own mediaType. */
function manifestMediaType(contentType: string | null, bytes: Buffer): string {
  const ct = contentType?.split(";")[0]?.trim();
  if (ct && (MANIFEST_MEDIA_TYPES as readonly string[]).includes(ct)) return ct;
  try {
    const doc = JSON.parse(bytes.toString("utf8")) as { mediaType?: unknown; manifests?: unknown };
    if (typeof doc.mediaType === "string" && doc.mediaType) return doc.mediaType;
    if (Array.isArray(doc.manifests)) return "application/vnd.oci.image.index.v1+json";
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
  }
  return ct || "application/vnd.oci.image.manifest.v1+json";
}

/** A client for one repository; `ref` is e.g. parseReference("127.0.0.1:5000/app:1.0") (domain + path). */
export function openRepository(ref: { domain: string; path: string }, options: RegistryOptions = {}): RepositoryClient {
  return new Repository(new RegistryTransport(ref.domain, options), ref.path);
}

/**
 * Checks that `host` accepts these credentials (GET /v2/ through the auth flow), for `tsbuild login`.
 * Throws RegistryError when it does not, or cannot be reached.
 */
export async function verifyLogin(
  host: string,
  credentials: { username: string; password: string },
  options: RegistryOptions = {},
): Promise<void> {
  const t = new RegistryTransport(host, options, () => Promise.resolve(credentials));
  const res = await t.request({ method: "GET", url: "/v2/", scopes: [], target: host, kind: "registry" });
  res.discard();
}
