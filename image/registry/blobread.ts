// A downloading blob's bytes, checked while they stream: sha256 against the digest and the count
// against the expected size. The stream fails (DigestMismatchError) before its end is reported when
// the bytes are wrong or short, so a consumer never commits a bad blob.
import { Readable, Transform, type TransformCallback } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { hashToDigest, newHash, type Digest } from "../../common/digest.js";
import { DigestMismatchError } from "../blobs.js";
import { RegistryError } from "./api.js";

class VerifyingStream extends Transform {
  private readonly hash = newHash();
  private received = 0;

  constructor(
    private readonly digest: Digest,
    private readonly size: number | undefined,
    private readonly target: string,
    private readonly repository: string,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.received += chunk.length;
    if (this.size !== undefined && this.received > this.size) {
      done(new RegistryError(`blob too large`, undefined, `${this.target}: more than the expected ${this.size} bytes`));
      return;
    }
    this.hash.update(chunk);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    const actual = hashToDigest(this.hash);
    if (actual !== this.digest) {
      const short = this.size !== undefined && this.received < this.size ? ` (truncated: ${this.received} of ${this.size} bytes)` : "";
      done(new DigestMismatchError(this.digest, actual, `blob from ${this.repository}${short}`));
      return;
    }
    done();
  }

  get bytesReceived(): number {
    return this.received;
  }
}

/** Wraps a fetch body; errors of the connection become one-line RegistryErrors. */
export function verifiedBlobStream(
  body: ReadableStream<Uint8Array>,
  digest: Digest,
  size: number | undefined,
  /** `host/repository`, for messages. */
  repository: string,
  host: string,
): Readable {
  const target = `${repository}@${digest}`;
  const source = Readable.fromWeb(body as WebReadableStream<Uint8Array>);
  const verify = new VerifyingStream(digest, size, target, repository);
  source.on("error", (e: unknown) => {
    const of = size !== undefined ? ` of ${size}` : "";
    const why = e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e);
    verify.destroy(new RegistryError(`connection to ${host} broken`, undefined,
      `${target}: download stopped after ${verify.bytesReceived}${of} bytes (${why})`));
  });
  verify.on("close", () => {
    if (!source.destroyed) source.destroy();
  });
  source.pipe(verify);
  return verify;
}
