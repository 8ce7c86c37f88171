// The plain-http engine behind netFetch (common/plainhttp.ts): what fetch did for the registry client,
// ADD and remote contexts, it must do too. Servers on 127.0.0.1, started and stopped here.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { netFetch } from "./netfetch.js";

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

async function serve(handler: Handler): Promise<{ server: Server; base: string }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => handler(req, res, Buffer.concat(chunks)));
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

let main: { server: Server; base: string };
let other: { server: Server; base: string };
const seen: Array<{ url: string; method: string; authorization?: string; body: string }> = [];
const noProxy = {}; // an environment without proxy variables: netFetch's plain engine

before(async () => {
  other = await serve((req, res) => {
    seen.push({ url: `other${req.url}`, method: req.method ?? "", ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}), body: "" });
    res.end("from the other origin");
  });
  main = await serve((req, res, body) => {
    seen.push({ url: req.url ?? "", method: req.method ?? "", ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}), body: body.toString() });
    const path = req.url ?? "";
    if (path === "/hello") res.writeHead(200, { "content-type": "text/plain", "x-two": ["a", "b"] }).end("hello");
    else if (path === "/json") res.end(JSON.stringify({ ok: true }));
    else if (path === "/see-other") res.writeHead(303, { location: "/hello" }).end();
    else if (path === "/moved") res.writeHead(307, { location: "/echo" }).end();
    else if (path === "/echo") res.end(`${req.method} ${body.toString()}`);
    else if (path === "/away") res.writeHead(302, { location: `${other.base}/landed` }).end();
    else if (path === "/loop") res.writeHead(302, { location: "/loop" }).end();
    else if (path === "/short") {
      res.writeHead(200, { "content-length": "100" });
      res.write("only ten b", () => setTimeout(() => res.socket?.destroy(), 20));
    } else res.writeHead(404).end("no such thing");
  });
});

after(async () => {
  await new Promise((ok) => main.server.close(ok));
  await new Promise((ok) => other.server.close(ok));
});

test("status, headers and the body, read whole or as a stream", async () => {
  const res = await netFetch(`${main.base}/hello`, {}, noProxy);
  assert.equal(res.status, 200);
  assert.equal(res.ok, true);
  assert.equal(res.headers.get("Content-Type"), "text/plain");
  assert.equal(res.headers.get("x-two"), "a, b");
  assert.equal(res.headers.get("x-missing"), null);
  assert.equal(await res.text(), "hello");
  assert.deepEqual(await (await netFetch(`${main.base}/json`, {}, noProxy)).json(), { ok: true });
  const streamed = (await netFetch(`${main.base}/hello`, {}, noProxy)).stream();
  assert.ok(streamed);
  const chunks: Buffer[] = [];
  for await (const c of streamed) chunks.push(c as Buffer);
  assert.equal(Buffer.concat(chunks).toString(), "hello");
  const missing = await netFetch(`${main.base}/nothing`, {}, noProxy);
  assert.equal(missing.status, 404);
  assert.equal(missing.ok, false);
  missing.discard();
  const head = await netFetch(`${main.base}/hello`, { method: "HEAD" }, noProxy);
  assert.equal(head.hasBody, false);
});

test("bodies sent: bytes, text and a Node stream", async () => {
  const put = (body: string | Uint8Array | Readable): Promise<string> =>
    netFetch(`${main.base}/echo`, { method: "PUT", body }, noProxy).then((r) => r.text());
  assert.equal(await put("text"), "PUT text");
  assert.equal(await put(new Uint8Array(Buffer.from("bytes"))), "PUT bytes");
  assert.equal(await put(Readable.from([Buffer.from("str"), Buffer.from("eamed")])), "PUT streamed");
});

test("redirects: followed as fetch follows them, or handed back when manual", async () => {
  assert.equal(await (await netFetch(`${main.base}/see-other`, { method: "POST", body: "x" }, noProxy)).text(), "hello");
  assert.equal(await (await netFetch(`${main.base}/moved`, { method: "POST", body: "kept" }, noProxy)).text(), "POST kept");
  const manual = await netFetch(`${main.base}/moved`, { redirect: "manual" }, noProxy);
  assert.equal(manual.status, 307);
  assert.equal(manual.headers.get("location"), "/echo");
  manual.discard();
  await assert.rejects(netFetch(`${main.base}/loop`, {}, noProxy), /^TypeError: redirect count exceeded/);
  seen.length = 0;
  const away = await netFetch(`${main.base}/away`, { headers: { authorization: "Bearer secret" } }, noProxy);
  assert.equal(await away.text(), "from the other origin");
  assert.deepEqual(seen.map((s) => [s.url, s.authorization]), [["/away", "Bearer secret"], ["other/landed", undefined]]);
});

test("failures as fetch's: a TypeError whose cause is the socket's error", async () => {
  const closed = await serve((_req, res) => res.end());
  const refused = `${closed.base}/x`;
  await new Promise((ok) => closed.server.close(ok));
  await assert.rejects(netFetch(refused, {}, noProxy), (e: unknown) =>
    e instanceof TypeError && e.cause instanceof Error && (e.cause as NodeJS.ErrnoException).code === "ECONNREFUSED");
  const short = await netFetch(`${main.base}/short`, {}, noProxy);
  await assert.rejects(short.text(), (e: unknown) => e instanceof TypeError);
});
