// A cache kept in a registry repository (`type=registry,ref=REG/REPO:TAG`): the cache manifest is
// pushed under the tag, its blobs beside it. Transfer (auth, retries, digest checks) is the
// registry client's.
import type { Readable } from "node:stream";
import type { Digest } from "../../common/digest.js";
import { RegistryError, type RepositoryClient } from "../../image/registry/api.js";
import type { CacheLayer } from "./format.js";
import type { CacheTransport, StoredManifest } from "./transport.js";

export class RegistryCacheTransport implements CacheTransport {
  readonly kind = "registry";
  readonly compressLayers = true;

  constructor(
    private readonly repo: RepositoryClient,
    /** The tag (or, for an import, a digest) the cache manifest is under. */
    private readonly reference: string,
    readonly where: string,
  ) {}

  async readManifest(): Promise<StoredManifest | undefined> {
    try {
      const m = await this.repo.getManifest(this.reference);
      return { mediaType: m.mediaType, bytes: m.bytes };
    } catch (e) {
      if (e instanceof RegistryError && e.status === 404) return undefined;
      throw e;
    }
  }

  openBlob(blob: CacheLayer): Promise<Readable> {
    return this.repo.openBlob(blob.digest, blob.size);
  }

  hasBlob(digest: Digest): Promise<boolean> {
    return this.repo.hasBlob(digest);
  }

  async putBlob(blob: CacheLayer, open: () => Readable): Promise<void> {
    await this.repo.pushBlob({ digest: blob.digest, size: blob.size, mediaType: blob.mediaType }, open);
  }

  writeManifest(mediaType: string, bytes: Buffer): Promise<Digest> {
    return this.repo.putManifest(this.reference, mediaType, bytes);
  }
}
