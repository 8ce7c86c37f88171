// A pass-through that hashes what flows by and fails the stream when the bytes do not match the
// descriptor (wrong digest, short or long): nothing unverified reaches the store.
import { Transform, type TransformCallback } from "node:stream";
import { hashToDigest, newHash, type Digest } from "../../common/digest.js";
import { DigestMismatchError } from "../../image/blobs.js";

export class VerifyingStream extends Transform {
  private readonly hash = newHash();
  private seen = 0;

  constructor(private readonly digest: Digest, private readonly size: number, private readonly what: string) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.size) return done(new DigestMismatchError(this.digest, `sha256:(more than ${this.size} bytes)` as Digest, this.what));
    this.hash.update(chunk);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    const actual = hashToDigest(this.hash);
    if (this.seen !== this.size || actual !== this.digest) return done(new DigestMismatchError(this.digest, actual, this.what));
    done();
  }
}

/** A pass-through that hashes and counts what flows by (for content whose digest is not known yet). */
export class HashingStream extends Transform {
  private readonly hash = newHash();
  size = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    done(null, chunk);
  }

  digest(): Digest {
    return hashToDigest(this.hash);
  }
}
