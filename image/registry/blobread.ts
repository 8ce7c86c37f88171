// A downloading blob's bytes, checked while they stream: sha256 against the digest and the count
// against the expected size. The stream fails (DigestMismatchError) before its end is reported when
// the bytes are wrong or short, so a consumer never commits a bad blob.
import { Transform, type Readable, type TransformCallback } from "node:stream";
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
}

/** Opens the rest of the blob from byte `offset` (a Range request), or undefined when that is not possible. */
export type ResumeBlob = (offset: number) => Promise<Readable | undefined>;

/**
 * Wraps a response body. A connection that breaks mid-body is resumed with `resume` (up to `retries`
 * times, when the registry honours Range); otherwise the stream fails with a one-line RegistryError.
 */
export function verifiedBlobStream(
  body: Readable,
  digest: Digest,
  size: number | undefined,
  /** `host/repository`, for messages. */
  repository: string,
  host: string,
  resume?: { open: ResumeBlob; retries: number },
): Readable {
  const target = `${repository}@${digest}`;
  const verify = new VerifyingStream(digest, size, target, repository);
  let source: Readable | undefined;
  let passed = 0; // bytes handed to verify (including ones it has not transformed yet)
  let resumes = 0;

  const fail = (e: unknown): void => {
    const of = size !== undefined ? ` of ${size}` : "";
    const why = e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e);
    verify.destroy(new RegistryError(`connection to ${host} broken`, undefined,
      `${target}: download stopped after ${passed}${of} bytes (${why})`));
  };

  const attach = (src: Readable): void => {
    source = src;
    src.on("data", (c: Buffer) => { passed += c.length; });
    src.on("error", (e: unknown) => {
      src.unpipe(verify);
      if (verify.destroyed) return;
      if (!resume || resumes >= resume.retries) {
        fail(e);
        return;
      }
      resumes++;
      resume.open(passed).then(
        (next) => {
          if (verify.destroyed) next?.destroy();
          else if (next) attach(next);
          else fail(e);
        },
        (e2: unknown) => verify.destroy(e2 instanceof Error ? e2 : new Error(String(e2))),
      );
    });
    src.pipe(verify);
  };

  verify.on("close", () => {
    if (source && !source.destroyed) source.destroy();
  });
  attach(body);
  return verify;
}
