// Every HTTP request tsbuild sends (registries; ADD from URLs), through one door that knows the CAs and
// the proxies. Node's fetch trusts only its bundled Mozilla roots, and the NODE_EXTRA_CA_CERTS file it
// reads at start-up costs every command ~50 ms, so bin/tsbuild hands that file on as
// TSBUILD_EXTRA_CA_CERTS instead. Here, on the first https request (or any request while a proxy is
// set), the CAs are loaded once: Node's roots, the system store (Debian's bundle, as Docker and
// BuildKit trust it) and that extra file; undici (Node's own fetch engine, from npm: Node 20 exposes no
// agent for its built-in fetch) sends such requests, its EnvHttpProxyAgent honouring HTTP(S)_PROXY and
// NO_PROXY. Loopback (localhost, 127.0.0.0/8, ::1) is never sent through a proxy, as Go's httpproxy
// (BuildKit's, Docker's) never does: a proxy cannot reach the machine's own loopback. A plain http
// request with no proxy to go through loads none of this, nor fetch: node:http sends it.
import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import type { Dispatcher } from "undici";
import { UserError, errnoCode } from "./errors.js";
import { NetResponse, type NetBody } from "./netresponse.js";
import { plainRequest, preloadPlainHttp } from "./plainhttp.js";
import { noteOutsideReached } from "./outside.js";

/** Where the system's CA bundle lives on Debian and its kin (Go's crypto/x509 looks here first). */
const SYSTEM_BUNDLES = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"];
const PROXY_VARIABLES = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"];


/** `proxied` honours the proxy variables; `direct` only carries the CAs (loopback targets). */
interface Engine { fetch: typeof import("undici").fetch; proxied: Dispatcher; direct: Dispatcher }

let engine: Promise<Engine> | undefined;

function readBundle(path: string, required: boolean): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = errnoCode(e);
    if (!required && (code === "ENOENT" || code === "EACCES")) return [];
    throw new UserError(`cannot read the CA certificates in ${path} (TSBUILD_EXTRA_CA_CERTS / NODE_EXTRA_CA_CERTS): ${code ?? String(e)}`);
  }
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
}

/** The CAs trusted for TLS: Node's bundled roots, the system store and the user's extra file, once each. */
export function caCertificates(env: NodeJS.ProcessEnv = process.env): string[] {
  const all = new Set<string>(rootCertificates);
  const system = SYSTEM_BUNDLES.find((p) => readBundle(p, false).length > 0);
  if (system !== undefined) for (const c of readBundle(system, false)) all.add(c);
  const extra = env.TSBUILD_EXTRA_CA_CERTS ?? env.NODE_EXTRA_CA_CERTS;
  if (extra) for (const c of readBundle(extra, true)) all.add(c);
  return [...all];
}

/** localhost, 127.0.0.0/8 and ::1 (as Go's httpproxy tells a loopback host: by name or address, not by DNS). */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h.endsWith(".localhost") || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** Loads what a request to url will be sent with, if that is node:http (undici is loaded when first used). */
export function preloadFor(url: URL): void {
  if (!needsAgent(url, process.env)) preloadPlainHttp();
}

function needsAgent(url: URL, env: NodeJS.ProcessEnv): boolean {
  if (url.protocol === "https:") return true;
  return !isLoopbackHost(url.hostname) && PROXY_VARIABLES.some((v) => (env[v] ?? "") !== "");
}

async function makeEngine(): Promise<Engine> {
  const { Agent, EnvHttpProxyAgent, fetch: undiciFetch } = await import("undici");
  const ca = caCertificates();
  // connect: direct connections; requestTls: the target through a proxy's tunnel; proxyTls: an https proxy.
  // (EnvHttpProxyAgent hands its options on to the ProxyAgents it makes: their TLS options are typed there.)
  const options: import("undici").EnvHttpProxyAgent.Options & Pick<import("undici").ProxyAgent.Options, "requestTls" | "proxyTls"> = {
    connect: { ca }, requestTls: { ca }, proxyTls: { ca },
  };
  return { fetch: undiciFetch, proxied: new EnvHttpProxyAgent(options), direct: new Agent({ connect: { ca } }) };
}

export interface NetInit {
  method?: string;
  headers?: Record<string, string>;
  body?: NetBody;
  /** "follow" (the default) follows up to 20 redirects, as fetch does; "manual" hands them back. */
  redirect?: "follow" | "manual";
}

const MAX_REDIRECTS = 20;

/**
 * One HTTP request: plain http without a proxy over node:http (common/plainhttp.ts), anything else
 * (https, or a proxy) over undici's fetch with the CAs and proxies above.
 */
export async function netFetch(url: string | URL, init: NetInit = {}, env: NodeJS.ProcessEnv = process.env): Promise<NetResponse> {
  noteOutsideReached();
  let target = typeof url === "string" ? new URL(url) : url;
  let method = init.method ?? "GET";
  let body = init.body;
  let headers = init.headers ?? {};
  for (let hops = 0; ; hops++) {
    if (needsAgent(target, env)) return agentFetch(target, { ...init, method, headers, ...(body !== undefined ? { body } : {}) });
    const res = await plainRequest(target, method, headers, body);
    const location = res.headers.get("location");
    if (init.redirect === "manual" || ![301, 302, 303, 307, 308].includes(res.status) || location === null) return res;
    res.discard();
    if (hops >= MAX_REDIRECTS) throw new TypeError(`redirect count exceeded at ${target.toString().slice(0, 200)}`);
    // fetch's rules: 303 (and 301/302 after a POST) continue as a GET without the body
    if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === "POST")) {
      if (method !== "HEAD") method = "GET";
      body = undefined;
    } else if (body !== undefined && typeof body !== "string" && !(body instanceof Uint8Array)) {
      throw new TypeError(`cannot follow a ${res.status} redirect with a streamed body (${target.host})`);
    }
    const next = new URL(location, target);
    // as fetch does: credentials are not sent on to another origin
    if (next.origin !== target.origin) headers = Object.fromEntries(Object.entries(headers).filter(([k]) => !["authorization", "cookie", "proxy-authorization"].includes(k.toLowerCase())));
    target = next;
  }
}

async function agentFetch(target: URL, init: NetInit): Promise<NetResponse> {
  engine ??= makeEngine();
  const { fetch: withAgent, proxied, direct } = await engine;
  const dispatcher = isLoopbackHost(target.hostname) ? direct : proxied;
  // undici's own fetch with its agent (Node 20's built-in fetch is an older undici that cannot drive
  // this one's agent with a streamed body); a Node stream body is an async iterable, which it sends as read.
  const res = await withAgent(target, {
    method: init.method ?? "GET",
    redirect: init.redirect ?? "follow",
    dispatcher,
    ...(init.headers ? { headers: init.headers } : {}),
    ...(init.body !== undefined ? { body: init.body, duplex: "half" as const } : {}),
  });
  return NetResponse.fromFetch(res as unknown as Response);
}
