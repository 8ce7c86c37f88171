// sha256 digests. The hash is OpenSSL's through the native helper (common/native.ts), which spares
// every command loading node:crypto (3-4 ms of start-up); node:crypto serves where the helper cannot.
import { createReadStream } from "node:fs";
import { native } from "./native.js";
import { createHash } from "node:crypto";
import { READ_CHUNK } from "./readchunk.js";

/** A content digest as OCI writes it: `sha256:<64 hex>`. */
export type Digest = `sha256:${string}`;

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export function isDigest(s: string): s is Digest {
  return DIGEST_RE.test(s);
}

/** A running sha256: what tsbuild uses of node:crypto's Hash. */
export interface Hash {
  update(data: Uint8Array | string): Hash;
  digest(encoding: "hex"): string;
}

class NativeSha256 implements Hash {
  private readonly handle = native().sha256New();

  update(data: Uint8Array | string): Hash {
    native().sha256Update(this.handle, data);
    return this;
  }

  digest(_encoding: "hex"): string {
    return native().sha256Digest(this.handle);
  }
}

let nativeHash: boolean | undefined;

export function newHash(): Hash {
  nativeHash ??= native().sha256Available();
  return nativeHash ? new NativeSha256() : createHash("sha256");
}

export function sha256(data: string | Uint8Array): Digest {
  return `sha256:${newHash().update(data).digest("hex")}`;
}

export function hashToDigest(h: Hash): Digest {
  return `sha256:${h.digest("hex")}`;
}

/** Streams a file through sha256. */
export async function sha256File(path: string): Promise<Digest> {
  const h = newHash();
  for await (const chunk of createReadStream(path, { highWaterMark: READ_CHUNK })) h.update(chunk as Buffer);
  return hashToDigest(h);
}

/** `bytes` random bytes in hex, for temporary names and ids (getrandom(2)). */
export function randomHex(bytes: number): string {
  return native().randomHex(bytes);
}

/** The hex part of a digest, for file names. */
export function digestHex(d: Digest): string {
  return d.slice("sha256:".length);
}
