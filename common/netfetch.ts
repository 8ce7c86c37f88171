// Every HTTP request tsbuild sends (registries; ADD from URLs), through one door that knows the CAs and
// the proxies. Node's fetch trusts only its bundled Mozilla roots, and the NODE_EXTRA_CA_CERTS file it
// reads at start-up costs every command ~50 ms, so bin/tsbuild hands that file on as
// TSBUILD_EXTRA_CA_CERTS instead. Here, on the first https request (or any request while a proxy is
// set), the CAs are loaded once: Node's roots, the system store (Debian's bundle, as Docker and
// BuildKit trust it) and that extra file; undici (Node's own fetch engine, from npm: Node 20 exposes no
// agent for its built-in fetch) sends such requests, its EnvHttpProxyAgent honouring HTTP(S)_PROXY and
// NO_PROXY. Loopback (localhost, 127.0.0.0/8, ::1) is never sent through a proxy, as Go's httpproxy
// (BuildKit's, Docker's) never does: a proxy cannot reach the machine's own loopback. A plain http
// request to loopback loads none of this.
import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import type { Dispatcher } from "undici";
import { UserError, errnoCode } from "./errors.js";

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

/** fetch, with the CAs and proxies above for https (and for anything while a proxy is set). */
export async function netFetch(url: string | URL, init: RequestInit = {}, env: NodeJS.ProcessEnv = process.env): Promise<Response> {
  const target = typeof url === "string" ? new URL(url) : url;
  if (!needsAgent(target, env)) return fetch(target, init);
  engine ??= makeEngine();
  const { fetch: withAgent, proxied, direct } = await engine;
  const dispatcher = isLoopbackHost(target.hostname) ? direct : proxied;
  // undici's own fetch with its agent (Node 20's built-in fetch is an older undici that cannot drive
  // this one's agent with a streamed body); its Response is the same API as the global one.
  const res = await withAgent(target, { ...(init as Parameters<typeof withAgent>[1]), dispatcher });
  return res as unknown as Response;
}
