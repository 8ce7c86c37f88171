// TLS and proxies as a user's machine has them: a registry on https with a private CA, trusted through
// NODE_EXTRA_CA_CERTS (which bin/tsbuild hands on instead of letting Node load it at every start), and
// HTTPS_PROXY / NO_PROXY honoured. Everything on loopback: the registry on 127.0.0.2 (tsbuild speaks
// plain http to 127.0.0.1 and localhost), a CONNECT proxy on 127.0.0.1. Loopback is never proxied (as
// Go's httpproxy), so the proxied requests name the registry as registry.test, a name only the proxy
// knows (it connects it to 127.0.0.2).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, request, type Server } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { caCertificates } from "../common/netfetch.js";
import { UserError } from "../common/errors.js";
import { TSBUILD, freshStore, removeStore } from "./helpers.js";
import { startRegistry, type TestRegistry } from "./registryserver.js";

let dir: string;
let reg: TestRegistry;
let store: string;
let caPath: string;

function openssl(args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "tsbuild-tls-"));
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=tsbuild test CA"]);
  openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.2"]);
  await writeFile(join(dir, "san.ext"), "subjectAltName=IP:127.0.0.2,DNS:registry.test\n");
  openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.ext"]);
  caPath = join(dir, "ca.pem");
  reg = await startRegistry({ tls: { certPath: join(dir, "server.pem"), keyPath: join(dir, "server.key") } });
  store = await freshStore();
});

after(async () => {
  await reg?.stop();
  if (store) await removeStore(store);
  await rm(dir, { recursive: true, force: true });
});

interface Result { code: number; stdout: string; stderr: string }

/** bin/tsbuild run as a program (its shell launcher), with exactly this environment added. */
function tsbuildEnv(args: string[], env: Record<string, string>): Promise<Result> {
  const base = { ...process.env };
  for (const k of ["NODE_EXTRA_CA_CERTS", "TSBUILD_EXTRA_CA_CERTS", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"]) delete base[k];
  return new Promise((done) => {
    execFile(TSBUILD, args, { env: { ...base, ...env } }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

test("the CA loader: Node's roots, the system store and the extra file; an unreadable file is one line", () => {
  const certs = caCertificates({ TSBUILD_EXTRA_CA_CERTS: caPath });
  const ca = execFileSync("openssl", ["x509", "-in", caPath], { encoding: "utf8" }).trim();
  assert.ok(certs.some((c) => c.trim() === ca), "the extra CA is trusted");
  assert.ok(certs.length > 100, "Node's bundled roots are kept");
  assert.throws(() => caCertificates({ TSBUILD_EXTRA_CA_CERTS: join(dir, "missing.pem") }), (e: unknown) => e instanceof UserError && e.message.includes("missing.pem"));
});

test("push and pull over https with the CA from NODE_EXTRA_CA_CERTS; without it a one-line TLS error", async () => {
  const ref = `${reg.host}/tls/busybox:1`;
  const push = await tsbuildEnv(["--root", store, "tag", "busybox:local", ref], {});
  assert.equal(push.code, 0, push.stderr);
  const pushed = await tsbuildEnv(["--root", store, "push", "-q", ref], { NODE_EXTRA_CA_CERTS: caPath });
  assert.equal(pushed.code, 0, pushed.stderr);
  const other = await mkdtemp(join(tmpdir(), "tsbuild-tls-store-"));
  try {
    const pulled = await tsbuildEnv(["--root", other, "pull", "-q", ref], { NODE_EXTRA_CA_CERTS: caPath });
    assert.equal(pulled.code, 0, pulled.stderr);
    const untrusted = await tsbuildEnv(["--root", other, "pull", "-q", `${reg.host}/tls/busybox:2`], {});
    assert.notEqual(untrusted.code, 0);
    assert.equal(untrusted.stderr.trim().split("\n").length, 1, untrusted.stderr);
    assert.match(untrusted.stderr, /127\.0\.0\.2/);
    assert.match(untrusted.stderr, /certificate/i);
  } finally {
    await removeStore(other);
  }
});

/** A CONNECT proxy on loopback that records where it was asked to connect. */
async function startProxy(): Promise<{ url: string; seen: string[]; server: Server }> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    // plain http through the proxy: forward
    seen.push(`GET ${req.url ?? ""}`);
    const fwd = request(req.url ?? "", { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    req.pipe(fwd);
  });
  server.on("connect", (req, client, head) => {
    seen.push(`CONNECT ${req.url ?? ""}`);
    const [host, port] = (req.url ?? "").split(":");
    const upstream = connect({ host: host === "registry.test" ? "127.0.0.2" : host ?? "", port: Number(port) }, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const addr = server.address();
  return { url: `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`, seen, server };
}

test("HTTPS_PROXY carries registry traffic through the proxy; NO_PROXY and loopback bypass it", async () => {
  const proxy = await startProxy();
  const other = await mkdtemp(join(tmpdir(), "tsbuild-tls-proxy-"));
  try {
    const named = `registry.test:${reg.host.split(":")[1]}`;
    const viaProxy = await tsbuildEnv(["--root", other, "pull", "-q", `${named}/tls/busybox:1`], { NODE_EXTRA_CA_CERTS: caPath, HTTPS_PROXY: proxy.url });
    assert.equal(viaProxy.code, 0, viaProxy.stderr);
    assert.ok(proxy.seen.includes(`CONNECT ${named}`), proxy.seen.join(", "));
    proxy.seen.length = 0;
    // NO_PROXY names it: tsbuild goes direct, where registry.test does not resolve
    const bypass = await tsbuildEnv(["--root", other, "pull", "-q", `${named}/tls/busybox:1`], { NODE_EXTRA_CA_CERTS: caPath, HTTPS_PROXY: proxy.url, NO_PROXY: "registry.test" });
    assert.notEqual(bypass.code, 0);
    assert.equal(bypass.stderr.trim().split("\n").length, 1, bypass.stderr);
    assert.match(bypass.stderr, /registry\.test/);
    assert.deepEqual(proxy.seen, []);
    // a loopback address is reached directly whatever the proxy variables say
    const loopback = await tsbuildEnv(["--root", other, "pull", "-q", `${reg.host}/tls/busybox:1`], { NODE_EXTRA_CA_CERTS: caPath, HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url });
    assert.equal(loopback.code, 0, loopback.stderr);
    assert.deepEqual(proxy.seen, []);
  } finally {
    proxy.server.closeAllConnections();
    await new Promise<void>((ok) => proxy.server.close(() => ok()));
    await removeStore(other);
  }
});
