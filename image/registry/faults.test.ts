// The registry client against small fake servers: bytes that lie, truncated bodies, 5xx and reset
// connections (retried), 4xx (not retried), rate limiting, cross-host redirects (no credentials
// forwarded), unreachable hosts, and a token server that answers `access_token`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { sha256 } from "../../common/digest.js";
import { DigestMismatchError } from "../blobs.js";
import { RegistryError } from "./api.js";
import { openRepository } from "./client.js";
import { saveCredentials } from "./credentials.js";

process.env.DOCKER_CONFIG = join(tmpdir(), "tsbuild-registry-test-no-docker-config");

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function withServer<T>(handler: Handler, fn: (host: string, port: number) => Promise<T>): Promise<T> {
  const server: Server = createServer(handler);
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", () => ok()));
  const port = (server.address() as AddressInfo).port;
  try {
    return await fn(`127.0.0.1:${port}`, port);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((ok) => server.close(() => ok()));
  }
}

async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const FAST = { retries: 3, retryDelayMs: 5 };
const GOOD = Buffer.from("the right bytes");
const GOOD_DIGEST = sha256(GOOD);

test("a blob whose bytes do not match its digest fails with DigestMismatchError", async () => {
  await withServer((_req, res) => { res.end("the wrong bytes"); }, async (host) => {
    const blob = await openRepository({ domain: host, path: "r" }, FAST).openBlob(GOOD_DIGEST, GOOD.length);
    await assert.rejects(readAll(blob), (e: unknown) => e instanceof DigestMismatchError && e.expected === GOOD_DIGEST);
  });
});

test("a truncated blob fails (cleanly ended short body, and a connection cut mid-body)", async () => {
  await withServer((_req, res) => { res.end(GOOD.subarray(0, 5)); }, async (host) => {
    const blob = await openRepository({ domain: host, path: "r" }, FAST).openBlob(GOOD_DIGEST, GOOD.length);
    await assert.rejects(readAll(blob), (e: unknown) => e instanceof DigestMismatchError && /truncated: 5 of 15 bytes/.test(e.message));
  });
  await withServer((_req, res) => {
    res.writeHead(200, { "content-length": String(GOOD.length) });
    res.write(GOOD.subarray(0, 5), () => res.destroy());
  }, async (host) => {
    const blob = await openRepository({ domain: host, path: "r" }, FAST).openBlob(GOOD_DIGEST, GOOD.length);
    await assert.rejects(readAll(blob), (e: unknown) =>
      e instanceof RegistryError && e.message.startsWith(`connection to ${host} broken: ${host}/r@${GOOD_DIGEST}: download stopped after 5 of 15 bytes`));
  });
});

test("a connection cut mid-blob resumes with a Range request when the registry honours it", async () => {
  const ranges: (string | undefined)[] = [];
  await withServer((req, res) => {
    ranges.push(req.headers.range);
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    if (m) {
      const from = Number(m[1]);
      res.writeHead(206, { "content-length": String(GOOD.length - from), "content-range": `bytes ${from}-${GOOD.length - 1}/${GOOD.length}` });
      res.end(GOOD.subarray(from));
      return;
    }
    res.writeHead(200, { "content-length": String(GOOD.length) });
    res.write(GOOD.subarray(0, 6), () => setTimeout(() => res.destroy(), 20));
  }, async (host) => {
    const blob = await openRepository({ domain: host, path: "r" }, FAST).openBlob(GOOD_DIGEST, GOOD.length);
    assert.deepEqual(await readAll(blob), GOOD);
  });
  assert.deepEqual(ranges, [undefined, "bytes=6-"]);
});

test("503 twice, then success: retried with backoff", async () => {
  let calls = 0;
  await withServer((_req, res) => {
    calls++;
    if (calls <= 2) { res.writeHead(503); res.end(); return; }
    res.end(GOOD);
  }, async (host) => {
    const blob = await openRepository({ domain: host, path: "r" }, FAST).openBlob(GOOD_DIGEST, GOOD.length);
    assert.deepEqual(await readAll(blob), GOOD);
    assert.equal(calls, 3);
  });
});

test("a reset connection is retried; 5xx for good gives up after the retries", async () => {
  let calls = 0;
  await withServer((req, res) => {
    calls++;
    if (calls === 1) { req.socket.destroy(); return; }
    res.end(GOOD);
  }, async (host) => {
    assert.equal(await openRepository({ domain: host, path: "r" }, FAST).hasBlob(GOOD_DIGEST), true);
    assert.equal(calls, 2);
  });
  let fails = 0;
  await withServer((_req, res) => { fails++; res.writeHead(500, "Internal Server Error"); res.end(); }, async (host) => {
    await assert.rejects(openRepository({ domain: host, path: "r" }, FAST).hasBlob(GOOD_DIGEST), (e: unknown) =>
      e instanceof RegistryError && e.status === 500 && e.message.startsWith(`${host} failed: HEAD ${host}/r@${GOOD_DIGEST}: 500`));
    assert.equal(fails, 4);
  });
});

test("4xx is not retried; 429 and 403 say what happened", async () => {
  let calls = 0;
  await withServer((_req, res) => {
    calls++;
    res.writeHead(429, { "content-type": "application/json" });
    res.end(JSON.stringify({ errors: [{ code: "TOOMANYREQUESTS", message: "slow down" }] }));
  }, async (host) => {
    await assert.rejects(openRepository({ domain: host, path: "lib/app" }, FAST).getManifest("1.0"), (e: unknown) =>
      e instanceof RegistryError && e.status === 429 &&
      e.message === `too many requests to ${host}: ${host}/lib/app:1.0: rate limited (429), try again later`);
    assert.equal(calls, 1);
  });
  await withServer((_req, res) => { res.writeHead(403); res.end(); }, async (host) => {
    await assert.rejects(openRepository({ domain: host, path: "lib/app" }, FAST).getManifest("1.0"), (e: unknown) =>
      e instanceof RegistryError && e.message === `access denied to ${host}/lib/app:1.0: ${host} answered 403 Forbidden`);
  });
});

test("connection refused: cannot reach HOST", async () => {
  const port = await withServer(() => undefined, async (_h, p) => p); // a port nobody listens on now
  await assert.rejects(openRepository({ domain: `127.0.0.1:${port}`, path: "r" }, FAST).getManifest("x"), (e: unknown) =>
    e instanceof RegistryError && e.message === `cannot reach 127.0.0.1:${port}: connection refused`);
});

test("a redirect to another host gets no Authorization header; the registry itself does", async () => {
  const root = await mkdtemp(join(tmpdir(), "tsbuild-redirect-"));
  const seen: { registry: (string | undefined)[]; store: (string | undefined)[] } = { registry: [], store: [] };
  try {
    await withServer((req, res) => { seen.store.push(req.headers.authorization); res.end(GOOD); }, async (_h, storePort) => {
      await withServer((req, res) => {
        seen.registry.push(req.headers.authorization);
        if (!req.headers.authorization) {
          res.writeHead(401, { "www-authenticate": 'Basic realm="fake"' });
          res.end();
          return;
        }
        res.writeHead(307, { location: `http://localhost:${storePort}/blobs/abc?sig=1` });
        res.end();
      }, async (host) => {
        await saveCredentials(root, host, "u", "p");
        const blob = await openRepository({ domain: host, path: "r" }, { ...FAST, storeRoot: root }).openBlob(GOOD_DIGEST, GOOD.length);
        assert.deepEqual(await readAll(blob), GOOD);
      });
    });
    assert.deepEqual(seen.registry, [undefined, `Basic ${Buffer.from("u:p").toString("base64")}`]);
    assert.deepEqual(seen.store, [undefined]);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test("Bearer flow: token from access_token, sent with the scope; PATCH chunks carry Content-Range", async () => {
  const root = await mkdtemp(join(tmpdir(), "tsbuild-bearer-"));
  const tokenQueries: string[] = [];
  const ranges: string[] = [];
  let uploaded = Buffer.alloc(0);
  try {
    await withServer((req, res) => {
      const url = new URL(req.url!, "http://x");
      if (url.pathname === "/token") {
        tokenQueries.push(`${url.search} ${req.headers.authorization}`);
        res.end(JSON.stringify({ access_token: "T0K" }));
        return;
      }
      if (req.headers.authorization !== "Bearer T0K") {
        res.writeHead(401, { "www-authenticate": `Bearer realm="http://${req.headers.host}/token",service="fake"` });
        res.end();
        return;
      }
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        if (req.method === "HEAD") { res.writeHead(404); res.end(); return; }
        if (req.method === "POST") { res.writeHead(202, { location: "/v2/r/blobs/uploads/u1?n=0" }); res.end(); return; }
        if (req.method === "PATCH") {
          ranges.push(String(req.headers["content-range"]));
          uploaded = Buffer.concat([uploaded, ...chunks]);
          res.writeHead(202, { location: `/v2/r/blobs/uploads/u1?n=${ranges.length}` });
          res.end();
          return;
        }
        assert.equal(url.searchParams.get("digest"), sha256(uploaded));
        assert.equal(url.searchParams.get("n"), "3");
        res.writeHead(201);
        res.end();
      });
    }, async (host) => {
      await saveCredentials(root, host, "me", "pw");
      const data = Buffer.from("x".repeat(25));
      const repo = openRepository({ domain: host, path: "r" }, { ...FAST, storeRoot: root });
      const result = await repo.pushBlob({ digest: sha256(data), size: 25 }, () => Readable.from([data.subarray(0, 7), data.subarray(7)]), { chunkSize: 10 });
      assert.equal(result, "uploaded");
      assert.deepEqual(uploaded, data);
    });
    assert.deepEqual(ranges, ["0-9", "10-19", "20-24"]);
    assert.deepEqual(tokenQueries, [`?service=fake&scope=repository%3Ar%3Apull%2Cpush Basic ${Buffer.from("me:pw").toString("base64")}`]);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test("an upload failing with 503 starts over (open called again); a short source stream is the caller's error", async () => {
  let puts = 0;
  const body: Buffer[] = [];
  await withServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method === "HEAD") { res.writeHead(404); res.end(); return; }
      if (req.method === "POST") { res.writeHead(202, { location: "/v2/r/blobs/uploads/x" }); res.end(); return; }
      puts++;
      if (puts === 1) { res.writeHead(503); res.end(); return; }
      body.push(Buffer.concat(chunks));
      res.writeHead(201);
      res.end();
    });
  }, async (host) => {
    const repo = openRepository({ domain: host, path: "r" }, FAST);
    let opened = 0;
    const result = await repo.pushBlob({ digest: GOOD_DIGEST, size: GOOD.length }, () => { opened++; return Readable.from([GOOD]); });
    assert.equal(result, "uploaded");
    assert.equal(opened, 2);
    assert.deepEqual(body, [GOOD]);
    await assert.rejects(repo.pushBlob({ digest: GOOD_DIGEST, size: 100 }, () => Readable.from([GOOD])), (e: unknown) =>
      e instanceof RegistryError && e.message === `blob shorter than its size: ${host}/r@${GOOD_DIGEST}: 85 bytes missing`);
  });
});

test("a manifest whose bytes do not match the digest asked for is refused", async () => {
  const body = Buffer.from('{"schemaVersion":2}');
  await withServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/vnd.oci.image.manifest.v1+json" });
    res.end(body);
  }, async (host) => {
    const repo = openRepository({ domain: host, path: "r" }, FAST);
    const wanted = sha256("another manifest");
    await assert.rejects(repo.getManifest(wanted), (e: unknown) => e instanceof DigestMismatchError && e.expected === wanted);
    assert.equal((await repo.getManifest("tag")).digest, sha256(body));
  });
});
