// Test fixture: Debian's docker-registry (distribution 2.x) on a free 127.0.0.1 port with a temporary
// storage folder; optionally behind htpasswd (Basic) or token (Bearer) auth, or on https (127.0.0.2). stop() kills it and removes
// the folder. Usage:
//   const reg = await startRegistry();            // anonymous, read/write
//   const reg = await startRegistry({ htpasswd: { user: "u", password: "p" } });
//   const reg = await startRegistry({ tokenAuth: { user: "u", password: "p" } });
//   ... reg.host === "127.0.0.1:PORT" ...; await reg.stop();
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTokenServer, type TokenServer } from "./tokenserver.js";

export interface TestRegistry {
  /** `127.0.0.1:PORT`, as written in image references. */
  host: string;
  /** `http://127.0.0.1:PORT`. */
  url: string;
  /** The temporary folder (config, storage under `data/`, auth files). */
  dataDir: string;
  /** The token server in tokenAuth mode (`issued` counts tokens by scope). */
  tokenServer?: TokenServer;
  /** The registry's log so far (stderr), for diagnosing a failing test. */
  logs(): string;
  stop(): Promise<void>;
}

export interface RegistryFixtureOptions {
  htpasswd?: { user: string; password: string };
  tokenAuth?: { user: string; password: string };
  /** Serve https on 127.0.0.2 (tsbuild speaks plain http to 127.0.0.1) with this certificate and key. */
  tls?: { certPath: string; keyPath: string };
}

export const DOCKER_REGISTRY = "/usr/bin/docker-registry";

function freePort(address = "127.0.0.1"): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, address, () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => ok(port));
    });
  });
}

function authSection(dir: string, opts: RegistryFixtureOptions, token: TokenServer | undefined): string {
  if (opts.htpasswd) {
    const line = execFileSync("htpasswd", ["-Bbn", opts.htpasswd.user, opts.htpasswd.password], { encoding: "utf8" });
    const path = join(dir, "htpasswd");
    writeFileSync(path, line.trim() + "\n");
    return `auth:\n  htpasswd:\n    realm: tsbuild-test\n    path: ${path}\n`;
  }
  if (token) {
    return `auth:\n  token:\n    realm: ${token.realm}\n    service: ${token.service}\n    issuer: ${token.issuer}\n` +
      `    rootcertbundle: ${token.certPath}\n`;
  }
  return "";
}

async function waitReady(url: string, child: ChildProcess, logs: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`docker-registry exited (${child.exitCode ?? child.signalCode}):\n${logs()}`);
    }
    if (url.startsWith("https:")) {
      // The test's CA is not Node's: a TCP connection says it listens.
      const { hostname, port } = new URL(url);
      if (await connects(hostname, Number(port))) return;
    } else {
      try {
        const res = await fetch(`${url}/v2/`);
        await res.body?.cancel();
        return; // 200 or 401: it answers
      } catch (e) {
        if (!(e instanceof TypeError)) throw e; // fetch failed: not listening yet
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`docker-registry did not answer at ${url} within 15s:\n${logs()}`);
}

function connects(host: string, port: number): Promise<boolean> {
  return new Promise((ok) => {
    const socket = connect({ host, port }, () => { socket.destroy(); ok(true); });
    socket.once("error", () => ok(false));
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((ok) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.once("exit", () => { clearTimeout(timer); ok(); });
    child.kill("SIGTERM");
  });
}

export async function startRegistry(opts: RegistryFixtureOptions = {}): Promise<TestRegistry> {
  const dataDir = await mkdtemp(join(tmpdir(), "tsbuild-registry-"));
  let token: TokenServer | undefined;
  let child: ChildProcess | undefined;
  try {
    if (opts.tokenAuth) token = await startTokenServer(dataDir, opts.tokenAuth);
    // The port is free when probed; another process could take it before the registry binds, so retry.
    for (let attempt = 0; ; attempt++) {
      const address = opts.tls ? "127.0.0.2" : "127.0.0.1";
      const port = await freePort(address);
      const host = `${address}:${port}`;
      const url = `${opts.tls ? "https" : "http"}://${host}`;
      const tls = opts.tls ? `  tls:\n    certificate: ${opts.tls.certPath}\n    key: ${opts.tls.keyPath}\n` : "";
      const config = join(dataDir, "config.yml");
      writeFileSync(config,
        "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\n" +
        `storage:\n  filesystem:\n    rootdirectory: ${join(dataDir, "data")}\n  delete:\n    enabled: true\n` +
        `http:\n  addr: ${host}\n  secret: tsbuild-test-secret\n${tls}` +
        authSection(dataDir, opts, token));
      let log = "";
      const proc = spawn(DOCKER_REGISTRY, ["serve", config], { stdio: ["ignore", "ignore", "pipe"] });
      child = proc;
      proc.stderr!.setEncoding("utf8").on("data", (s: string) => { log = (log + s).slice(-200_000); });
      const logs = (): string => log;
      try {
        await waitReady(url, proc, logs);
      } catch (e) {
        await stopChild(proc);
        child = undefined;
        if (attempt < 2 && /address already in use/.test(log)) continue;
        throw e;
      }
      const tokenServer = token;
      return {
        host, url, dataDir, tokenServer, logs,
        stop: async () => {
          await stopChild(proc);
          if (tokenServer) await tokenServer.stop();
          await rm(dataDir, { recursive: true, force: true });
        },
      };
    }
  } catch (e) {
    if (child) await stopChild(child);
    if (token) await token.stop();
    await rm(dataDir, { recursive: true, force: true });
    throw e;
  }
}
