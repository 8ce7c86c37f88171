// Registry authorization: anonymous, Basic, or the Docker token flow. A 401's
// `WWW-Authenticate: Bearer realm=...,service=...,scope=...` sends us to the realm for a token (with
// Basic credentials when we have them); tokens are cached per scope set for this client's lifetime.
import type { NetInit } from "../../common/netfetch.js";
import type { NetResponse } from "../../common/netresponse.js";
import { RegistryError } from "./api.js";
import type { Credentials } from "./credentials.js";

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `Bearer realm="https://auth",service="reg",scope="repository:a:pull"` (first challenge only). */
export function parseChallenge(header: string): Challenge | undefined {
  const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*,?\s*/gy;
  const rest = m[2]!;
  re.lastIndex = 0;
  let p: RegExpExecArray | null;
  while (re.lastIndex < rest.length && (p = re.exec(rest)) !== null) {
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : p[3]!;
  }
  return { scheme: m[1]!.toLowerCase(), params };
}

export type FetchLike = (url: string, init: NetInit) => Promise<NetResponse>;

interface TokenResponse {
  token?: unknown;
  access_token?: unknown;
}

/** Holds what is known about one registry host's auth; shared by the requests of one client. */
export class Authorizer {
  private scheme: "none" | "basic" | "bearer" = "none";
  private bearer: Challenge["params"] | undefined;
  private readonly tokens = new Map<string, Promise<string>>();
  private credsLoaded: Promise<Credentials | undefined> | undefined;

  constructor(
    readonly host: string,
    private readonly loadCredentials: () => Promise<Credentials | undefined>,
    private readonly fetchToken: FetchLike,
  ) {}

  credentials(): Promise<Credentials | undefined> {
    this.credsLoaded ??= this.loadCredentials();
    return this.credsLoaded;
  }

  async hasCredentials(): Promise<boolean> {
    return (await this.credentials()) !== undefined;
  }

  /** The Authorization header for a request needing `scopes`, as far as we know the scheme yet. */
  async header(scopes: readonly string[]): Promise<string | undefined> {
    if (this.scheme === "basic") return basicHeader(await this.credentials());
    if (this.scheme === "bearer") return `Bearer ${await this.token(scopes)}`;
    return undefined;
  }

  /**
   * Learns from a 401's challenge. Returns true when one retry with a fresh header may succeed
   * (the scheme was unknown, or the token sent was refused and a new one is worth asking for).
   */
  async challenged(res: NetResponse, scopes: readonly string[], sentHeader: string | undefined): Promise<boolean> {
    const challenge = parseChallenge(res.headers.get("www-authenticate") ?? "");
    if (challenge?.scheme === "basic") {
      if (sentHeader?.startsWith("Basic ") || !(await this.hasCredentials())) return false;
      this.scheme = "basic";
      return true;
    }
    if (challenge?.scheme === "bearer" && challenge.params.realm) {
      this.scheme = "bearer";
      this.bearer = challenge.params;
      // The token we sent was refused (expired, or issued before we had credentials): get a new one.
      if (sentHeader?.startsWith("Bearer ")) this.tokens.delete(scopeKey(scopes));
      return true;
    }
    return false;
  }

  private token(scopes: readonly string[]): Promise<string> {
    const key = scopeKey(scopes);
    let p = this.tokens.get(key);
    if (!p) {
      p = this.requestToken(scopes);
      this.tokens.set(key, p);
      p.catch(() => this.tokens.delete(key));
    }
    return p;
  }

  private async requestToken(scopes: readonly string[]): Promise<string> {
    const params = this.bearer!;
    const url = new URL(params.realm!);
    if (params.service) url.searchParams.set("service", params.service);
    for (const s of new Set(scopes)) url.searchParams.append("scope", s);
    const creds = await this.credentials();
    const headers: Record<string, string> = { accept: "application/json" };
    const basic = basicHeader(creds);
    if (basic) headers.authorization = basic;
    const res = await this.fetchToken(url.toString(), { method: "GET", headers });
    if (res.status === 401 || res.status === 403) {
      res.discard();
      throw new RegistryError(`authentication failed for ${this.host}`, res.status,
        creds ? `wrong credentials for user ${creds.username}` : "the token server refused anonymous access");
    }
    if (!res.ok) {
      res.discard();
      throw new RegistryError(`authentication failed for ${this.host}`, res.status,
        `token server ${url.host} answered ${res.status} ${res.statusText}`);
    }
    const body = (await res.json()) as TokenResponse;
    const token = typeof body.token === "string" && body.token ? body.token : body.access_token;
    if (typeof token !== "string" || token === "") {
      throw new RegistryError(`authentication failed for ${this.host}`, res.status, `token server ${url.host} sent no token`);
    }
    return token;
  }
}

function scopeKey(scopes: readonly string[]): string {
  return [...new Set(scopes)].sort().join(" ");
}

function basicHeader(creds: Credentials | undefined): string | undefined {
  if (!creds) return undefined;
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`, "utf8").toString("base64")}`;
}

export function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}

export function pushScope(repository: string): string {
  return `repository:${repository}:pull,push`;
}
