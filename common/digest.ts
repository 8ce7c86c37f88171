import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";

/** A content digest as OCI writes it: `sha256:<64 hex>`. */
export type Digest = `sha256:${string}`;

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export function isDigest(s: string): s is Digest {
  return DIGEST_RE.test(s);
}

export function sha256(data: string | Uint8Array): Digest {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

export function newHash(): Hash {
  return createHash("sha256");
}

export function hashToDigest(h: Hash): Digest {
  return `sha256:${h.digest("hex")}`;
}

/** Streams a file through sha256. */
export async function sha256File(path: string): Promise<Digest> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return `sha256:${h.digest("hex")}`;
}

/** The hex part of a digest, for file names. */
export function digestHex(d: Digest): string {
  return d.slice("sha256:".length);
}
