// Credentials files (tsbuild's auth.json, Docker's config.json) and `tsbuild login/logout` end to end.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRegistry } from "../../test/registryserver.js";
import { REPO } from "../../test/helpers.js";
import { authFilePath, findCredentials, normalizeRegistryHost, removeCredentials, saveCredentials } from "./credentials.js";

const b64 = (s: string): string => Buffer.from(s).toString("base64");

async function withDirs(fn: (root: string, dockerConfig: string) => Promise<void>): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), "tsbuild-creds-"));
  const saved = process.env.DOCKER_CONFIG;
  process.env.DOCKER_CONFIG = join(base, "docker");
  try {
    await mkdir(process.env.DOCKER_CONFIG);
    await fn(join(base, "root"), process.env.DOCKER_CONFIG);
  } finally {
    if (saved === undefined) delete process.env.DOCKER_CONFIG;
    else process.env.DOCKER_CONFIG = saved;
    await rm(base, { recursive: true, force: true });
  }
}

test("saveCredentials writes Docker's shape with mode 0600; removeCredentials forgets", async () => {
  await withDirs(async (root) => {
    await saveCredentials(root, "127.0.0.1:5000", "al:ice", "p:w");
    const file = authFilePath(root);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(await readFile(file, "utf8")), { auths: { "127.0.0.1:5000": { auth: b64("al:ice:p:w") } } });
    // user names may not hold ':' in Docker either; the password may
    assert.deepEqual(await findCredentials("127.0.0.1:5000", root), { username: "al", password: "ice:p:w" });
    await saveCredentials(root, "https://registry-1.docker.io/v2/", "hub", "pw");
    assert.deepEqual(await findCredentials("docker.io", root), { username: "hub", password: "pw" });
    assert.equal(await removeCredentials(root, "127.0.0.1:5000"), true);
    assert.equal(await removeCredentials(root, "127.0.0.1:5000"), false);
    assert.equal(await findCredentials("127.0.0.1:5000", root), undefined);
    assert.deepEqual(Object.keys(JSON.parse(await readFile(file, "utf8")).auths as object), ["docker.io"]);
  });
});

test("findCredentials: tsbuild's file first, then $DOCKER_CONFIG/config.json with Docker's key spellings", async () => {
  await withDirs(async (root, dockerConfig) => {
    await writeFile(join(dockerConfig, "config.json"), JSON.stringify({
      auths: {
        "https://index.docker.io/v1/": { auth: b64("dockeruser:dockerpw") },
        "https://reg.example.com": { auth: b64("ex:expw") },
        "both.example.com": { auth: b64("docker:side") },
        "helper.example.com": {},
      },
      credsStore: "desktop",
    }));
    await saveCredentials(root, "both.example.com", "tsbuild", "side");
    assert.deepEqual(await findCredentials("docker.io", root), { username: "dockeruser", password: "dockerpw" });
    assert.deepEqual(await findCredentials("reg.example.com"), { username: "ex", password: "expw" });
    assert.deepEqual(await findCredentials("both.example.com", root), { username: "tsbuild", password: "side" });
    assert.deepEqual(await findCredentials("both.example.com"), { username: "docker", password: "side" });
    assert.equal(await findCredentials("helper.example.com", root), undefined);
    assert.equal(await findCredentials("other.example.com", root), undefined);
  });
});

test("normalizeRegistryHost", () => {
  assert.equal(normalizeRegistryHost("https://Index.Docker.io/v1/"), "docker.io");
  assert.equal(normalizeRegistryHost("registry-1.docker.io"), "docker.io");
  assert.equal(normalizeRegistryHost("http://127.0.0.1:5000/"), "127.0.0.1:5000");
  assert.throws(() => normalizeRegistryHost("https://"), /invalid registry address/);
});

/** Runs the CLI from source (no build needed) with `input` on stdin. */
function cli(args: string[], input = ""): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const code = `import("./cli/main.ts").then((m) => m.main(${JSON.stringify(args)}))`;
  const child = spawn(process.execPath, ["--import", "tsx", "-e", code], { cwd: REPO, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => { stdout += s; });
  child.stderr.setEncoding("utf8").on("data", (s: string) => { stderr += s; });
  child.stdin.end(input);
  return new Promise((ok, fail) => {
    child.on("error", fail);
    child.on("close", (c) => ok({ code: c, stdout, stderr }));
  });
}

test("tsbuild login verifies before saving; logout forgets", async () => {
  const reg = await startRegistry({ htpasswd: { user: "carol", password: "pa55" } });
  try {
    await withDirs(async (root) => {
      const bad = await cli(["--root", root, "login", reg.host, "-u", "carol", "--password-stdin"], "nope\n");
      assert.equal(bad.code, 1, bad.stderr);
      assert.match(bad.stderr, new RegExp(`^error: authentication failed for ${reg.host.replace(/\./g, "\\.")}: wrong credentials`));
      assert.equal(await findCredentials(reg.host, root), undefined);

      const good = await cli(["--root", root, "login", reg.host, "-u", "carol", "--password-stdin"], "pa55\n");
      assert.equal(good.code, 0, good.stderr);
      assert.equal(good.stdout, "Login Succeeded\n");
      assert.deepEqual(await findCredentials(reg.host, root), { username: "carol", password: "pa55" });

      const out = await cli(["--root", root, "logout", reg.host]);
      assert.equal(out.stdout, `Removing login credentials for ${reg.host}\n`);
      assert.equal(await findCredentials(reg.host, root), undefined);
      assert.equal((await cli(["--root", root, "logout", reg.host])).stdout, `Not logged in to ${reg.host}\n`);

      const noUser = await cli(["--root", root, "login", reg.host, "-p", "x"]);
      assert.equal(noUser.stderr, "error: login: a user name is needed: -u USER\n");
    });
  } finally {
    await reg.stop();
  }
});
