// Blob upload (OCI distribution spec "push"): HEAD first, then a cross-repository mount when we know
// a source repository, else POST an upload session and either PUT the whole blob (monolithic) or
// PATCH it in chunks (Content-Range, following the Location each time) and close with PUT ?digest=.
// Bodies stream from the caller's Readable; a chunk is a slice of that stream, never a buffer.
import { Readable } from "node:stream";
import type { Digest } from "../../common/digest.js";
import type { NetResponse } from "../../common/netresponse.js";
import { RegistryError, type BlobPushResult, type RemoteDescriptor } from "./api.js";
import { pullScope, pushScope } from "./auth.js";
import type { RegistryTransport } from "./transport.js";

/** Blobs above this size are sent in chunks even when no chunk size is asked for. */
export const MONOLITHIC_MAX = 256 * 1024 * 1024;
export const DEFAULT_CHUNK_SIZE = 64 * 1024 * 1024;

interface UploadContext {
  t: RegistryTransport;
  repository: string;
  blob: RemoteDescriptor;
  target: string;
}

export async function blobExists(t: RegistryTransport, repository: string, digest: Digest, scopes: readonly string[]): Promise<boolean> {
  const res = await t.request({
    method: "HEAD", url: `/v2/${repository}/blobs/${digest}`, scopes, accept: [404],
    target: `${t.host}/${repository}@${digest}`, kind: "blob",
  });
  res.discard();
  return res.status !== 404;
}

export async function pushBlob(
  t: RegistryTransport,
  repository: string,
  blob: RemoteDescriptor,
  open: () => Readable,
  options: { mountFrom?: string; chunkSize?: number } = {},
): Promise<BlobPushResult> {
  const ctx: UploadContext = { t, repository, blob, target: `${t.host}/${repository}@${blob.digest}` };
  if (await blobExists(t, repository, blob.digest, [pushScope(repository)])) return "exists";
  const chunkSize = options.chunkSize ?? (blob.size > MONOLITHIC_MAX ? DEFAULT_CHUNK_SIZE : undefined);
  if (chunkSize !== undefined && (!Number.isSafeInteger(chunkSize) || chunkSize <= 0)) {
    throw new RangeError(`chunkSize must be a positive integer, got ${chunkSize}`);
  }
  let mountFrom = options.mountFrom !== undefined && options.mountFrom !== repository ? options.mountFrom : undefined;
  return t.withRetries(async () => {
    const session = await startUpload(ctx, mountFrom);
    if (session === "mounted") return "mounted";
    mountFrom = undefined; // the registry could not mount: retries go straight to an upload
    const src = open();
    try {
      if (chunkSize === undefined) await putWhole(ctx, session, src);
      else await patchChunks(ctx, session, src, chunkSize);
    } finally {
      src.destroy();
    }
    return "uploaded";
  });
}

/** POST: 201 means the mount worked; 202 gives the upload session's Location. */
async function startUpload(ctx: UploadContext, mountFrom: string | undefined): Promise<string | "mounted"> {
  const { t, repository, blob } = ctx;
  const query = mountFrom ? `?mount=${encodeURIComponent(blob.digest)}&from=${encodeURIComponent(mountFrom)}` : "";
  const scopes = mountFrom ? [pushScope(repository), pullScope(mountFrom)] : [pushScope(repository)];
  const res = await t.request({
    method: "POST", url: `/v2/${repository}/blobs/uploads/${query}`, scopes, target: ctx.target, kind: "upload",
    headers: { "content-length": "0" },
  });
  res.discard();
  if (res.status === 201 && mountFrom) return "mounted";
  return locationOf(res, ctx);
}

function locationOf(res: NetResponse, ctx: UploadContext): string {
  const location = res.headers.get("location");
  if (!location) {
    throw new RegistryError(`${ctx.t.host} gave no upload location`, res.status, `${ctx.target}: ${res.status} without a Location header`);
  }
  return new URL(location, ctx.t.baseUrl).toString();
}

/**
 * Sends a request whose body is cut from `src`; a failure of the caller's stream (a read error, or
 * fewer bytes than the blob's size) is reported as itself, not mistaken for the network's.
 */
async function sendBody<T>(src: Readable, slicer: StreamSlicer, send: () => Promise<T>): Promise<T> {
  let failure: unknown;
  const onError = (e: unknown): void => { failure = e; };
  src.once("error", onError);
  try {
    return await send();
  } catch (e) {
    const local = failure ?? slicer.failure;
    throw local !== undefined ? local : e;
  } finally {
    src.off("error", onError);
  }
}

async function putWhole(ctx: UploadContext, location: string, src: Readable): Promise<void> {
  const url = new URL(location);
  url.searchParams.set("digest", ctx.blob.digest);
  const slicer = new StreamSlicer(src, ctx.target);
  const res = await sendBody(src, slicer, () => ctx.t.request({
    method: "PUT", url: url.toString(), scopes: [pushScope(ctx.repository)], target: ctx.target, kind: "upload",
    headers: { "content-type": "application/octet-stream", "content-length": String(ctx.blob.size) },
    body: () => slicer.slice(ctx.blob.size), replayable: false,
  }));
  res.discard();
}

async function patchChunks(ctx: UploadContext, location: string, src: Readable, chunkSize: number): Promise<void> {
  const slicer = new StreamSlicer(src, ctx.target);
  let url = location;
  for (let offset = 0; offset < ctx.blob.size; offset += chunkSize) {
    const length = Math.min(chunkSize, ctx.blob.size - offset);
    const res = await sendBody(src, slicer, () => ctx.t.request({
      method: "PATCH", url, scopes: [pushScope(ctx.repository)], target: ctx.target, kind: "upload",
      headers: {
        "content-type": "application/octet-stream",
        "content-length": String(length),
        "content-range": `${offset}-${offset + length - 1}`,
      },
      body: () => slicer.slice(length), replayable: false,
    }));
    res.discard();
    url = locationOf(res, ctx);
  }
  const done = new URL(url);
  done.searchParams.set("digest", ctx.blob.digest);
  const res = await ctx.t.request({
    method: "PUT", url: done.toString(), scopes: [pushScope(ctx.repository)], target: ctx.target, kind: "upload",
    headers: { "content-length": "0" },
  });
  res.discard();
}

/** Cuts consecutive slices of exact lengths out of one Readable, each a Readable of its own (pull-driven). */
class StreamSlicer {
  private readonly iterator: AsyncIterator<Buffer>;
  private leftover: Buffer | undefined;
  /** Set when the source ran out before a slice was complete. */
  failure: RegistryError | undefined;

  constructor(src: Readable, private readonly target: string) {
    this.iterator = src[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  slice(length: number): Readable {
    return Readable.from(this.pieces(length), { objectMode: false });
  }

  private async *pieces(length: number): AsyncGenerator<Buffer> {
    let remaining = length;
    while (remaining > 0) {
      let chunk = this.leftover;
      this.leftover = undefined;
      if (!chunk) {
        const next = await this.iterator.next();
        if (next.done) {
          this.failure = new RegistryError("blob shorter than its size", undefined, `${this.target}: ${remaining} bytes missing`);
          throw this.failure;
        }
        chunk = next.value;
      }
      if (chunk.length > remaining) {
        this.leftover = chunk.subarray(remaining);
        chunk = chunk.subarray(0, remaining);
      }
      remaining -= chunk.length;
      yield chunk;
    }
  }
}
