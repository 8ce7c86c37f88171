// ADD from an http(s) URL, as BuildKit 0.13's Dockerfile frontend and http source do it: the file is
// named from the URL's path (`__unnamed__` when it has none), written with mode 0600 and the
// Last-Modified time (the epoch without one), never extracted; `--checksum=sha256:…` is checked before
// the file is used. The body streams into a scratch file while it is hashed, never held in memory.
// A download is re-checked each build with a conditional request (ETag, Last-Modified) where the
// server supports it; with --checksum the step's key is known without any request.
import { createWriteStream } from "node:fs";
import { rename, rm, utimes } from "node:fs/promises";
import { posix } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { hashToDigest, isDigest, newHash, type Digest } from "../../common/digest.js";
import { DockerfileError, UserError, errorMessage, type SourcePlace } from "../../common/errors.js";
import { netFetch } from "../../common/netfetch.js";
import type { NetHeaders, NetResponse } from "../../common/netresponse.js";
import { READ_CHUNK } from "../../common/readchunk.js";

/** BuildKit's isHTTPSource. */
export function isHttpSource(source: string): boolean {
  return source.startsWith("http://") || source.startsWith("https://");
}

/** The file name BuildKit's Dockerfile frontend gives a URL's download: the last segment of its path. */
export function urlFileName(url: string): string {
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(url).pathname);
  } catch {
    return "__unnamed__"; // not a URL Go's url.Parse reads either: BuildKit's fallback name
  }
  const base = posix.basename(pathname);
  return base === "" || base === "." || base === "/" ? "__unnamed__" : base;
}

/** `--checksum=sha256:<hex>` as ADD takes it. */
export function parseChecksum(value: string | undefined, place: SourcePlace): Digest | undefined {
  if (value === undefined) return undefined;
  if (!isDigest(value)) throw new DockerfileError(place, `invalid checksum digest format ${JSON.stringify(value.slice(0, 100))}: expected sha256:<64 hex digits>`);
  return value as Digest;
}

/** What a server said of a URL the last time: enough to ask "changed since?" and to key the step. */
export interface UrlValidators {
  digest: Digest;
  etag?: string;
  lastModified?: string;
}

export type UrlCheck =
  | { kind: "unchanged"; validators: UrlValidators }
  | { kind: "downloaded"; file: string; validators: UrlValidators };

function shown(url: string): string {
  return url.length > 200 ? `${url.slice(0, 200)}…` : url;
}

/**
 * GETs the URL into `file` (through a temporary name beside it), conditionally when `known` says what
 * the server sent before; a 304 means the known content is still current. With `checksum`, a body of
 * another digest fails before the file exists. `file` may be chosen from the response's headers;
 * `place` is the Dockerfile line errors name (`ADD URL: …`), or how to make an error elsewhere.
 */
export async function fetchUrl(url: string, file: string | ((headers: NetHeaders) => string), place: SourcePlace | ((message: string) => Error), opts: { known?: UrlValidators; checksum?: Digest } = {}): Promise<UrlCheck> {
  const fail = typeof place === "function" ? place : (message: string): Error => new DockerfileError(place, `ADD ${shown(url)}: ${message}`);
  const headers: Record<string, string> = {};
  if (opts.known?.etag) headers["if-none-match"] = opts.known.etag;
  if (opts.known?.lastModified) headers["if-modified-since"] = opts.known.lastModified;
  let res: NetResponse;
  try {
    res = await netFetch(url, { headers, redirect: "follow" });
  } catch (e) {
    throw fail(e instanceof Error && e.cause instanceof Error ? e.cause.message : errorMessage(e));
  }
  if (res.status === 304 && opts.known) {
    res.discard();
    return { kind: "unchanged", validators: opts.known };
  }
  const body = res.ok ? res.stream() : null;
  if (body === null) {
    res.discard();
    throw fail(`invalid response status ${res.status}${res.statusText ? ` ${res.statusText}` : ""}`);
  }
  const hash = newHash();
  let received = 0;
  const tee = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      received += chunk.length;
      done(null, chunk);
    },
  });
  const target = typeof file === "string" ? file : file(res.headers);
  const partial = `${target}.part`;
  try {
    await pipeline(body, tee, createWriteStream(partial, { mode: 0o600, highWaterMark: READ_CHUNK }));
  } catch (e) {
    await rm(partial, { force: true });
    throw fail(`download failed: ${downloadFailure(e, received, res.headers.get("content-length"))}`);
  }
  const digest = hashToDigest(hash);
  try {
    if (opts.checksum !== undefined && digest !== opts.checksum) throw fail(`digest mismatch: --checksum says ${opts.checksum}, the download is ${digest}`);
    const lastModified = res.headers.get("last-modified") ?? undefined;
    const mtime = lastModified !== undefined && !Number.isNaN(Date.parse(lastModified)) ? new Date(lastModified) : new Date(0);
    await utimes(partial, mtime, mtime);
    await rename(partial, target);
    const etag = res.headers.get("etag") ?? undefined;
    return { kind: "downloaded", file: target, validators: { digest, ...(etag ? { etag } : {}), ...(lastModified ? { lastModified } : {}) } };
  } catch (e) {
    await rm(partial, { force: true });
    throw e;
  }
}

/**
 * A `--build-context NAME=URL` that is not a repository: the download as one file in `dir`, as BuildKit's
 * http source names it without a filename (Content-Disposition's, else the URL path's last segment,
 * else `download`), mode 0600, the Last-Modified time; not extracted.
 */
export async function downloadNamedContext(url: string, dir: string, what: string): Promise<string> {
  const got = await fetchUrl(url, (headers) => posix.join(dir, httpSourceFileName(url, headers.get("content-disposition"))), (m) => new UserError(`${what}: ${m}`));
  return got.kind === "downloaded" ? got.file : dir;
}

/** BuildKit's source/http getFileName without a manual name. */
export function httpSourceFileName(url: string, contentDisposition: string | null): string {
  const param = contentDisposition !== null ? /(?:^|;)\s*filename\s*=\s*(?:"([^"]*)"|([^;\s]*))/i.exec(contentDisposition) : null;
  const given = param ? (param[1] ?? param[2] ?? "") : "";
  if (given !== "" && !given.endsWith("/")) {
    const base = posix.basename(given);
    if (base !== "" && base !== "." && base !== "/") return base;
  }
  let pathname = "";
  try {
    pathname = decodeURIComponent(new URL(url).pathname);
  } catch {
    return "download"; // not a URL Go's url.Parse reads either
  }
  const base = posix.basename(pathname);
  return base !== "" && base !== "." && base !== "/" ? base : "download";
}

/** Why a body stopped: a connection closed short of its Content-Length says so in bytes (undici says "terminated"). */
function downloadFailure(e: unknown, received: number, contentLength: string | null): string {
  const expected = contentLength !== null && /^\d+$/.test(contentLength) ? Number(contentLength) : undefined;
  if (expected !== undefined && received < expected) return `the connection closed after ${received} of ${expected} bytes`;
  const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : "";
  return `${errorMessage(e)}${cause}`;
}
