// The contract between the registry client (image/registry/client*.ts, auth*.ts) and its users
// (pull, push, manifest inspect, the shared build cache). Users code against these types only.
import type { Readable } from "node:stream";
import type { Digest } from "../../common/digest.js";
import { UserError } from "../../common/errors.js";

export interface RegistryOptions {
  /** Hosts reached over plain HTTP; `localhost` and `127.0.0.1` (any port) always are. */
  insecureHosts?: readonly string[];
  /** The store root: `tsbuild login` keeps credentials at `<root>/auth.json` (0600, Docker's config shape). */
  storeRoot?: string;
  /** Retries on 5xx and broken connections (default 3), with exponential backoff from `retryDelayMs` (default 200). */
  retries?: number;
  retryDelayMs?: number;
}

export interface RemoteManifest {
  /** The response's Content-Type (OCI manifest/index, Docker schema 2 manifest/manifest list). */
  mediaType: string;
  /** sha256 of `bytes`; checked against the reference when it is a digest. */
  digest: Digest;
  bytes: Buffer;
}

export interface RemoteDescriptor {
  digest: Digest;
  size: number;
  mediaType?: string;
}

export type BlobPushResult = "exists" | "mounted" | "uploaded";

/** One repository on one registry, e.g. host `127.0.0.1:5000`, repository `library/busybox`. */
export interface RepositoryClient {
  /** Registry host as written in references (`docker.io` is reached at registry-1.docker.io). */
  readonly host: string;
  readonly repository: string;
  /** GET a manifest or index by tag or digest, accepting OCI and Docker schema 2 media types. */
  getManifest(reference: string): Promise<RemoteManifest>;
  /** HEAD a manifest: its descriptor, or undefined when the registry answers 404. */
  headManifest(reference: string): Promise<RemoteDescriptor | undefined>;
  /** PUT a manifest under a tag or digest; returns its digest. */
  putManifest(reference: string, mediaType: string, bytes: Buffer): Promise<Digest>;
  /** HEAD a blob. */
  hasBlob(digest: Digest): Promise<boolean>;
  /** Every tag of the repository (GET /v2/NAME/tags/list, following its pages), sorted. */
  listTags(): Promise<string[]>;
  /**
   * GET a blob as a stream (redirects followed without credentials). The stream fails with
   * DigestMismatchError (image/blobs.ts) when the bytes do not hash to `digest` or stop short of `size`.
   */
  openBlob(digest: Digest, size?: number): Promise<Readable>;
  /**
   * Upload a blob unless the registry has it (HEAD first); tries a cross-repository mount from
   * `mountFrom` (a repository on the same host) before uploading. `open` is called once per attempt.
   */
  pushBlob(
    blob: RemoteDescriptor,
    open: () => Readable,
    options?: { mountFrom?: string; chunkSize?: number },
  ): Promise<BlobPushResult>;
}

/** A registry answered with an error (401/403/404/429/5xx after retries) or could not be reached. */
export class RegistryError extends UserError {
  constructor(
    /** What was being done, naming the reference: `pull 127.0.0.1:5000/app:1.0`. */
    readonly what: string,
    readonly status: number | undefined,
    detail: string,
  ) {
    super(`${what}: ${detail}`);
  }
}
