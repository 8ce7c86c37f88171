// Test helper: an in-memory registry behind the RepositoryClient interface, counting requests and
// able to fail on cue. Used by the pull/push unit tests; the integration tests use a real registry.
import { Readable } from "node:stream";
import { sha256, type Digest } from "../../common/digest.js";
import { DigestMismatchError } from "../blobs.js";
import { RegistryError, type BlobPushResult, type RemoteDescriptor, type RemoteManifest, type RepositoryClient } from "./api.js";
import type { Connect } from "./manifest.js";

export interface FakeCounts {
  getManifest: number;
  headManifest: number;
  putManifest: number;
  hasBlob: number;
  openBlob: number;
  pushBlob: number;
  uploads: number;
  mounts: number;
}

export class FakeRegistry {
  readonly host = "fake.test:5000";
  readonly blobs = new Map<Digest, Buffer>();
  /** Which repositories hold a blob (for HEAD and mounts). */
  readonly blobRepos = new Map<Digest, Set<string>>();
  readonly manifests = new Map<string, { mediaType: string; bytes: Buffer }>();
  readonly counts: FakeCounts = { getManifest: 0, headManifest: 0, putManifest: 0, hasBlob: 0, openBlob: 0, pushBlob: 0, uploads: 0, mounts: 0 };
  /** Blobs served with these bytes instead (a corrupt registry). */
  readonly tamper = new Map<Digest, Buffer>();
  /** When set, the n-th blob upload from now fails (counting from 1), as a registry dying mid-push. */
  failUploadAt: number | undefined;

  connect: Connect = (ref) => new FakeRepository(this, ref.path);

  addBlob(repo: string, data: Buffer): Digest {
    const d = sha256(data);
    this.blobs.set(d, data);
    let set = this.blobRepos.get(d);
    if (!set) this.blobRepos.set(d, (set = new Set()));
    set.add(repo);
    return d;
  }

  putManifest(repo: string, reference: string, mediaType: string, bytes: Buffer): Digest {
    const d = sha256(bytes);
    this.manifests.set(`${repo}@${d}`, { mediaType, bytes });
    if (reference !== d) this.manifests.set(`${repo}:${reference}`, { mediaType, bytes });
    return d;
  }

  resetCounts(): void {
    for (const k of Object.keys(this.counts) as Array<keyof FakeCounts>) this.counts[k] = 0;
  }
}

class FakeRepository implements RepositoryClient {
  readonly host: string;

  constructor(private readonly reg: FakeRegistry, readonly repository: string) {
    this.host = reg.host;
  }

  private key(reference: string): string {
    return reference.startsWith("sha256:") ? `${this.repository}@${reference}` : `${this.repository}:${reference}`;
  }

  async getManifest(reference: string): Promise<RemoteManifest> {
    this.reg.counts.getManifest++;
    const m = this.reg.manifests.get(this.key(reference));
    if (!m) throw new RegistryError(`pull ${this.host}/${this.repository}:${reference}`, 404, "manifest unknown");
    return { mediaType: m.mediaType, digest: sha256(m.bytes), bytes: m.bytes };
  }

  async headManifest(reference: string): Promise<RemoteDescriptor | undefined> {
    this.reg.counts.headManifest++;
    const m = this.reg.manifests.get(this.key(reference));
    return m ? { digest: sha256(m.bytes), size: m.bytes.length, mediaType: m.mediaType } : undefined;
  }

  async putManifest(reference: string, mediaType: string, bytes: Buffer): Promise<Digest> {
    this.reg.counts.putManifest++;
    return this.reg.putManifest(this.repository, reference, mediaType, bytes);
  }

  async listTags(): Promise<string[]> {
    const prefix = `${this.repository}:`;
    return [...this.reg.manifests.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length)).sort();
  }

  async hasBlob(digest: Digest): Promise<boolean> {
    this.reg.counts.hasBlob++;
    return this.reg.blobRepos.get(digest)?.has(this.repository) ?? false;
  }

  async openBlob(digest: Digest, size?: number): Promise<Readable> {
    this.reg.counts.openBlob++;
    const data = this.reg.tamper.get(digest) ?? this.reg.blobs.get(digest);
    if (!data || !this.reg.blobRepos.get(digest)?.has(this.repository)) {
      throw new RegistryError(`blob ${digest}`, 404, "blob unknown");
    }
    const actual = sha256(data);
    async function* chunks(): AsyncGenerator<Buffer> {
      for (let off = 0; off < data!.length; off += 64 * 1024) yield data!.subarray(off, off + 64 * 1024);
      if (actual !== digest || (size !== undefined && size !== data!.length)) throw new DigestMismatchError(digest, actual);
    }
    return Readable.from(chunks());
  }

  async pushBlob(blob: RemoteDescriptor, open: () => Readable, options: { mountFrom?: string } = {}): Promise<BlobPushResult> {
    this.reg.counts.pushBlob++;
    const repos = this.reg.blobRepos.get(blob.digest);
    if (repos?.has(this.repository)) return "exists";
    if (options.mountFrom !== undefined && repos?.has(options.mountFrom)) {
      this.reg.counts.mounts++;
      repos.add(this.repository);
      return "mounted";
    }
    const chunks: Buffer[] = [];
    for await (const c of open()) chunks.push(c as Buffer);
    const data = Buffer.concat(chunks);
    if (this.reg.failUploadAt !== undefined && --this.reg.failUploadAt === 0) {
      throw new RegistryError(`push ${this.host}/${this.repository}`, undefined, "connection reset");
    }
    if (sha256(data) !== blob.digest || data.length !== blob.size) {
      throw new RegistryError(`push ${this.host}/${this.repository}`, 400, "digest invalid");
    }
    this.reg.counts.uploads++;
    this.reg.addBlob(this.repository, data);
    return "uploaded";
  }
}
