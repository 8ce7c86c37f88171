// What tsbuild reads of an HTTP answer, whichever engine sent the request (common/netfetch.ts): the
// status, the headers, and the body as a Node stream, read whole or streamed once, or thrown away.
// Not the web Response: making one loads Node's bundled undici (~100 ms of a push or pull here), and
// every consumer turned its web body back into a Node stream anyway.
import { Readable } from "node:stream";
import type { IncomingMessage } from "node:http";
import type { ReadableStream as WebReadableStream } from "node:stream/web";

/** A body smaller than this is read to its end when thrown away, so that its connection is reused. */
const DRAIN_MAX = 64 * 1024;

export interface NetHeaders {
  /** The header's value (repeated headers joined with ", "), or null. */
  get(name: string): string | null;
}

/** A request body: bytes, text, or a Node stream sent as it is read (chunked). */
export type NetBody = string | Uint8Array | Readable;

export class NetResponse {
  readonly ok: boolean;
  private body: Readable | null;

  constructor(
    readonly status: number,
    readonly statusText: string,
    readonly headers: NetHeaders,
    body: Readable | null,
  ) {
    this.ok = status >= 200 && status <= 299;
    this.body = body;
  }

  /** A fetch Response (the https and proxied engine's) as one of these. */
  static fromFetch(res: Response): NetResponse {
    const body = res.body === null ? null : Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
    return new NetResponse(res.status, res.statusText, res.headers, body);
  }

  /** A node:http answer; `bodyless` for a HEAD, 204, 304 or an empty length (read to its end here). */
  static fromIncoming(res: IncomingMessage, bodyless: boolean): NetResponse {
    if (bodyless) res.resume();
    return new NetResponse(res.statusCode ?? 0, res.statusMessage ?? "", new IncomingHeaders(res), bodyless ? null : res);
  }

  /** Whether there is a body left to read. */
  get hasBody(): boolean {
    return this.body !== null;
  }

  /** The body as a stream, handed over once (null when there is none or it was taken). */
  stream(): Readable | null {
    const b = this.body;
    this.body = null;
    return b;
  }

  /** Throws the body away: a short one is read to its end (its connection stays open), a long one closed. */
  discard(): void {
    const b = this.stream();
    if (b === null) return;
    const length = Number(this.headers.get("content-length") ?? "NaN");
    if (Number.isFinite(length) && length <= DRAIN_MAX) b.resume();
    else b.destroy();
  }

  /** The whole body; a connection that breaks while it is read rejects with a TypeError (as fetch does). */
  async buffer(): Promise<Buffer> {
    const b = this.stream();
    if (b === null) return Buffer.alloc(0);
    const chunks: Buffer[] = [];
    try {
      for await (const c of b) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array));
    } catch (e) {
      if (e instanceof TypeError) throw e;
      throw new TypeError(`reading the response failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    return Buffer.concat(chunks);
  }

  async text(): Promise<string> {
    return (await this.buffer()).toString("utf8");
  }

  /** The body parsed as JSON (a SyntaxError when it is not). */
  async json(): Promise<unknown> {
    return JSON.parse(await this.text()) as unknown;
  }
}

class IncomingHeaders implements NetHeaders {
  constructor(private readonly res: IncomingMessage) {}

  get(name: string): string | null {
    const v = this.res.headers[name.toLowerCase()];
    if (v === undefined) return null;
    return Array.isArray(v) ? v.join(", ") : v;
  }
}
