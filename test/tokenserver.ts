// A tiny Docker token server for the registry test fixture: distribution 2.x (`auth: token`) trusts the
// self-signed certificate written here and accepts RS256 JWTs whose header `kid` is the libtrust key ID
// of that certificate's public key. The token server checks Basic credentials and grants every requested
// action to the right user; anonymous requests get a token with no access (as Docker Hub does).
import { createHash, createSign, generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  /** PEM certificate the registry uses as `rootcertbundle`. */
  certPath: string;
  /** Number of tokens issued, by scope string ("" for none); tests check caching with it. */
  issued: Map<string, number>;
  stop(): Promise<void>;
}

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function base32(bytes: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = "";
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** libtrust's key ID: base32 of the first 240 bits of sha256(DER public key), in groups of 4 joined by ':'. */
export function libtrustKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: "spki", format: "der" });
  const b32 = base32(createHash("sha256").update(der).digest().subarray(0, 30));
  return b32.match(/.{4}/g)!.join(":");
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString("base64url");
}

interface Access { type: string; name: string; actions: string[] }

function parseScopes(scopes: string[]): Access[] {
  const out: Access[] = [];
  for (const scope of scopes) {
    // repository:name:actions — the name may itself hold a ':' (host:port is not used here, but be safe).
    const first = scope.indexOf(":");
    const last = scope.lastIndexOf(":");
    if (first < 0 || last === first) continue;
    out.push({ type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(",") });
  }
  return out;
}

export async function startTokenServer(
  dir: string,
  creds: { user: string; password: string },
): Promise<TokenServer> {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const keyPath = join(dir, "token-key.pem");
  const certPath = join(dir, "token-cert.pem");
  writeFileSync(keyPath, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  execFileSync("openssl", ["req", "-x509", "-new", "-key", keyPath, "-out", certPath, "-days", "2", "-subj", "/CN=tsbuild-test-token"], { stdio: "pipe" });
  const kid = libtrustKeyId(publicKey);
  const service = "tsbuild-test-registry";
  const issuer = "tsbuild-test-issuer";
  const issued = new Map<string, number>();

  const sign = (access: Access[], sub: string): string => {
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ typ: "JWT", alg: "RS256", kid }));
    const claims = b64url(JSON.stringify({
      iss: issuer, sub, aud: service, exp: now + 300, nbf: now - 10, iat: now,
      jti: randomBytes(12).toString("hex"), access,
    }));
    const signature = createSign("RSA-SHA256").update(`${header}.${claims}`).sign(privateKey);
    return `${header}.${claims}.${b64url(signature)}`;
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const auth = req.headers.authorization;
    let user = "";
    if (auth !== undefined) {
      const m = /^Basic (.+)$/i.exec(auth);
      const [u, ...rest] = m ? Buffer.from(m[1]!, "base64").toString().split(":") : [""];
      if (u !== creds.user || rest.join(":") !== creds.password) {
        res.writeHead(401, { "content-type": "application/json" });
        res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "wrong credentials" }] }));
        return;
      }
      user = u;
    }
    const scopes = url.searchParams.getAll("scope");
    const key = scopes.join(" ");
    issued.set(key, (issued.get(key) ?? 0) + 1);
    const access = user ? parseScopes(scopes) : [];
    const token = sign(access, user);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
  });
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => ok());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certPath,
    issued,
    stop: () => new Promise<void>((ok) => {
      server.closeAllConnections();
      server.close(() => ok());
    }),
  };
}
