// HTTP to one registry host (common/netfetch.ts): base URL (https, or http for localhost and insecure
// hosts), auth (one retry after a 401 challenge), retries with exponential backoff on 5xx and broken
// connections, redirects followed by hand so credentials never go to another host, and one-line
// RegistryErrors for what the registry refused.
import { netFetch, type NetInit } from "../../common/netfetch.js";
import type { NetBody, NetResponse } from "../../common/netresponse.js";
import { RegistryError, type RegistryOptions } from "./api.js";
import { Authorizer } from "./auth.js";
import { findCredentials, type Credentials } from "./credentials.js";
import { describeFailure, isTransientStatus, networkFailure, TransientError } from "./failures.js";

export interface RegistryRequest {
  method: "GET" | "HEAD" | "PUT" | "POST" | "PATCH" | "DELETE";
  /** A path under the base URL (`/v2/...`) or an absolute URL (an upload Location). */
  url: string;
  headers?: Record<string, string>;
  /** Called once per try; a request with a one-shot stream body sets `replayable: false`. */
  body?: () => NetBody;
  replayable?: boolean;
  scopes: readonly string[];
  /** Names the thing in error messages: `127.0.0.1:5000/app:1.0`. */
  target: string;
  kind: "manifest" | "blob" | "upload" | "registry";
  /** Statuses handed back to the caller instead of becoming errors (e.g. 404 for a HEAD). */
  accept?: readonly number[];
}

const MAX_REDIRECTS = 5;

export function registryBaseUrl(host: string, insecureHosts: readonly string[] = []): string {
  if (host === "docker.io") return "https://registry-1.docker.io";
  const hostname = host.replace(/:\d+$/, "").replace(/^\[(.*)\]$/, "$1");
  const plain = hostname === "localhost" || hostname === "127.0.0.1" || hostname === "::1" ||
    insecureHosts.includes(host) || insecureHosts.includes(hostname);
  return `${plain ? "http" : "https"}://${host}`;
}

export class RegistryTransport {
  readonly baseUrl: string;
  readonly auth: Authorizer;
  readonly retries: number;
  private readonly retryDelayMs: number;

  constructor(
    readonly host: string,
    options: RegistryOptions = {},
    credentials?: () => Promise<Credentials | undefined>,
  ) {
    this.baseUrl = registryBaseUrl(host, options.insecureHosts);
    this.retries = options.retries ?? 3;
    this.retryDelayMs = options.retryDelayMs ?? 200;
    const load = credentials ?? (() => findCredentials(host, options.storeRoot));
    this.auth = new Authorizer(host, load, (url, init) => this.fetchOnce(url, init, `token for ${host}`));
  }

  /**
   * Sends the request; the response is OK (2xx, redirects followed) or one of `accept`. A request
   * with a one-shot body is tried once and may throw TransientError: call it inside withRetries.
   */
  async request(req: RegistryRequest): Promise<NetResponse> {
    if (req.replayable === false) return this.tryOnce(req);
    return this.withRetries(() => this.tryOnce(req));
  }

  /** Retries a whole multi-request operation (an upload) on transient failures. */
  async withRetries<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof TransientError) || attempt >= this.retries) throw e instanceof TransientError ? e.final : e;
        await sleep(this.retryDelayMs * 2 ** attempt);
      }
    }
  }

  /** One try: auth (with one retry after a challenge) and redirects. Throws TransientError for retryable failures. */
  private async tryOnce(req: RegistryRequest): Promise<NetResponse> {
    let authRetried = false;
    for (;;) {
      const authorization = await this.auth.header(req.scopes);
      const res = await this.followRedirects(req, authorization);
      if (res.status === 401 && !authRetried) {
        if (req.replayable === false) {
          // The body stream is spent; learn the challenge and let the caller's operation start over.
          const retry = await this.auth.challenged(res, req.scopes, authorization);
          const err = await describeFailure(res, req, this.host, await this.auth.hasCredentials());
          if (retry) throw new TransientError(err);
          throw err;
        }
        if (await this.auth.challenged(res, req.scopes, authorization)) {
          res.discard();
          authRetried = true;
          continue;
        }
      }
      if (res.ok || req.accept?.includes(res.status)) return res;
      const err = await describeFailure(res, req, this.host, await this.auth.hasCredentials());
      if (isTransientStatus(res.status)) throw new TransientError(err);
      throw err;
    }
  }

  private async followRedirects(req: RegistryRequest, authorization: string | undefined): Promise<NetResponse> {
    let url = new URL(req.url, this.baseUrl);
    const origin = new URL(this.baseUrl).origin;
    for (let hops = 0; ; hops++) {
      const headers: Record<string, string> = { ...req.headers };
      // Credentials go only to the registry itself, never to a blob store it redirects to (nor to
      // an upload Location on another host).
      if (authorization && url.origin === origin) headers.authorization = authorization;
      const method = hops > 0 && req.method !== "HEAD" ? "GET" : req.method;
      const init: NetInit = { method, headers, redirect: "manual", ...(hops === 0 && req.body ? { body: req.body() } : {}) };
      const res = await this.fetchOnce(url.toString(), init, req.target);
      const location = res.headers.get("location");
      if (![301, 302, 303, 307, 308].includes(res.status) || !location || (req.method !== "GET" && req.method !== "HEAD")) {
        return res;
      }
      res.discard();
      if (hops >= MAX_REDIRECTS) {
        throw new RegistryError(`too many redirects`, res.status, `${req.target} (last: ${location})`);
      }
      url = new URL(location, url);
    }
  }

  /** fetch, with network failures turned into RegistryError (refused) or TransientError (reset). */
  async fetchOnce(url: string, init: NetInit, target: string): Promise<NetResponse> {
    try {
      return await netFetch(url, init);
    } catch (e) {
      throw networkFailure(e, new URL(url).host, target);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
