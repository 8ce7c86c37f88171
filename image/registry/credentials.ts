// Registry credentials in Docker's config shape `{"auths":{"HOST":{"auth":"base64(user:pass)"}}}`.
// `tsbuild login` writes `<storeRoot>/auth.json` (0600); reading also falls back to Docker's own
// config ($DOCKER_CONFIG/config.json, then ~/.docker/config.json) so a `docker login` is honoured.
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { errnoCode, UserError } from "../../common/errors.js";
import { atomicWriteFile } from "../../common/fsutil.js";
import { withFileLock } from "../../common/lock.js";
import { storePaths } from "../../common/storepaths.js";

export interface Credentials {
  username: string;
  password: string;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  [key: string]: unknown;
}

interface AuthFile {
  auths?: Record<string, AuthEntry>;
  [key: string]: unknown;
}

export const DOCKER_HUB_HOST = "docker.io";
const DOCKER_HUB_ALIASES = ["docker.io", "index.docker.io", "registry-1.docker.io", "https://index.docker.io/v1/"];

export function authFilePath(storeRoot: string): string {
  return join(storeRoot, "auth.json");
}

/**
 * A registry host as written in references: `https://host:5000/v2/` → `host:5000`;
 * Docker Hub's aliases (index.docker.io, registry-1.docker.io) → `docker.io`.
 */
export function normalizeRegistryHost(input: string): string {
  let host = input.trim().replace(/^[a-z]+:\/\//i, "");
  const slash = host.indexOf("/");
  if (slash >= 0) host = host.slice(0, slash);
  host = host.toLowerCase();
  if (host === "" ) throw new UserError(`invalid registry address: ${JSON.stringify(input)}`);
  return DOCKER_HUB_ALIASES.includes(host) ? DOCKER_HUB_HOST : host;
}

/** The keys under `auths` that may hold credentials for `host`. */
function candidateKeys(host: string): string[] {
  const keys = [host, `https://${host}`, `http://${host}`, `https://${host}/`, `https://${host}/v2/`, `https://${host}/v1/`];
  if (host === DOCKER_HUB_HOST) keys.push(...DOCKER_HUB_ALIASES, "https://registry-1.docker.io");
  return keys;
}

async function readAuthFile(path: string): Promise<AuthFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if (errnoCode(e) === "ENOENT" || errnoCode(e) === "ENOTDIR") return undefined;
    throw e;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${path}: not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new UserError(`${path}: expected a JSON object`);
  }
  return parsed as AuthFile;
}

function decodeEntry(entry: AuthEntry, path: string, key: string): Credentials | undefined {
  if (typeof entry.auth === "string" && entry.auth !== "") {
    const text = Buffer.from(entry.auth, "base64").toString("utf8");
    const colon = text.indexOf(":");
    if (colon < 0) throw new UserError(`${path}: auths["${key}"].auth is not base64 of user:password`);
    return { username: text.slice(0, colon), password: text.slice(colon + 1) };
  }
  if (typeof entry.username === "string" && typeof entry.password === "string") {
    return { username: entry.username, password: entry.password };
  }
  return undefined;
}

/** The files searched, in order: tsbuild's own, then Docker's. */
export function credentialFiles(storeRoot?: string): string[] {
  const files: string[] = [];
  if (storeRoot !== undefined) files.push(authFilePath(storeRoot));
  if (process.env.DOCKER_CONFIG) files.push(join(process.env.DOCKER_CONFIG, "config.json"));
  files.push(join(homedir(), ".docker", "config.json"));
  return files;
}

/** Credentials for `host` (as written in references), or undefined for anonymous access. */
export async function findCredentials(host: string, storeRoot?: string): Promise<Credentials | undefined> {
  const wanted = normalizeRegistryHost(host);
  for (const path of credentialFiles(storeRoot)) {
    const file = await readAuthFile(path);
    const auths = file?.auths;
    if (!auths || typeof auths !== "object") continue;
    for (const key of candidateKeys(wanted)) {
      const entry = auths[key];
      if (entry && typeof entry === "object") {
        const creds = decodeEntry(entry, path, key);
        if (creds) return creds;
      }
    }
  }
  return undefined;
}

async function updateAuthFile(storeRoot: string, change: (auths: Record<string, AuthEntry>) => boolean): Promise<boolean> {
  const path = authFilePath(storeRoot);
  return withFileLock(join(storePaths(storeRoot).locks, "auth.lock"), async () => {
    const file = (await readAuthFile(path)) ?? {};
    const auths = file.auths && typeof file.auths === "object" ? file.auths : {};
    if (!change(auths)) return false;
    file.auths = auths;
    await atomicWriteFile(path, JSON.stringify(file, null, "\t") + "\n", 0o600);
    return true;
  });
}

/** Stores credentials for `host` in `<storeRoot>/auth.json` (mode 0600). */
export async function saveCredentials(storeRoot: string, host: string, user: string, password: string): Promise<void> {
  const key = normalizeRegistryHost(host);
  const auth = Buffer.from(`${user}:${password}`, "utf8").toString("base64");
  await updateAuthFile(storeRoot, (auths) => {
    auths[key] = { auth };
    return true;
  });
}

/** Forgets the credentials for `host` in `<storeRoot>/auth.json`; false when there were none. */
export async function removeCredentials(storeRoot: string, host: string): Promise<boolean> {
  const wanted = normalizeRegistryHost(host);
  return updateAuthFile(storeRoot, (auths) => {
    let removed = false;
    for (const key of candidateKeys(wanted)) {
      if (key in auths) {
        delete auths[key];
        removed = true;
      }
    }
    return removed;
  });
}
