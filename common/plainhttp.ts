// Plain HTTP/1.1 requests over node:http, for every request that needs neither TLS nor a proxy (a
// loopback or --insecure-registry registry, an ADD from an http URL). Node's fetch costs a command
// ~90-120 ms the first time it is used (its bundled undici is compiled then) and streams bodies through
// web streams; node:http is part of what Node has loaded anyway. Connections are kept alive (an idle
// one does not hold the process open). Failures to connect or send reject with a TypeError whose cause
// is the socket's error, as fetch's do, so callers tell them apart the same way.
import { Agent, request } from "node:http";
import { pipeline } from "node:stream";
import { NetResponse, type NetBody } from "./netresponse.js";

let agent: Agent | undefined;

const IDLE_TIMEOUT_MS = 300_000;

/** Loads node:http now (~8 ms of compiling), for a caller that has file reads in flight to overlap it with. */
export function preloadPlainHttp(): void {
  agent ??= new Agent({ keepAlive: true });
}

export function plainRequest(url: URL, method: string, headers: Record<string, string>, body: NetBody | undefined): Promise<NetResponse> {
  agent ??= new Agent({ keepAlive: true });
  return new Promise<NetResponse>((resolve, reject) => {
    const req = request(url, { method, headers, agent }, (res) => {
      const status = res.statusCode ?? 0;
      const bodyless = method === "HEAD" || status === 204 || status === 304 || res.headers["content-length"] === "0";
      resolve(NetResponse.fromIncoming(res, bodyless));
    });
    // After the answer has come, a broken connection is the body's error (the response stream's).
    req.on("error", (e) => reject(new TypeError(`${method} ${url.host}: ${e.message}`, { cause: e })));
    // a connection silent this long (no answer, or a body that stopped) is given up, as undici's
    // fetch gives up after its 300 s headers and body timeouts
    req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(Object.assign(new Error(`no data for ${IDLE_TIMEOUT_MS / 1000} s`), { code: "ETIMEDOUT" })));
    if (body === undefined) req.end();
    else if (typeof body === "string" || body instanceof Uint8Array) req.end(body);
    // the source's failure destroys the request with it, which rejects above with it as the cause
    else pipeline(body, req, () => undefined);
  });
}
