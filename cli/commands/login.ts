// `tsbuild login [REGISTRY] -u USER (-p PASS | --password-stdin)`: checks the credentials against the
// registry (GET /v2/ through its auth flow) and keeps them in <root>/auth.json (0600).
// `tsbuild logout [REGISTRY]` forgets them. REGISTRY defaults to Docker Hub.
import { UserError } from "../../common/errors.js";
import type { RegistryOptions } from "../../image/registry/api.js";
import { verifyLogin } from "../../image/registry/client.js";
import { DOCKER_HUB_HOST, normalizeRegistryHost, removeCredentials, saveCredentials } from "../../image/registry/credentials.js";

export interface LoginOptions {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function passwordOf(opts: LoginOptions): Promise<string> {
  if (opts.password !== undefined && opts.passwordStdin) throw new UserError("login: --password and --password-stdin are mutually exclusive");
  if (opts.passwordStdin) {
    const text = (await readStdin()).replace(/\r?\n$/, "");
    if (text === "") throw new UserError("login: no password on standard input");
    return text;
  }
  if (opts.password === undefined) throw new UserError("login: a password is needed: -p PASSWORD or --password-stdin");
  process.stderr.write("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n");
  return opts.password;
}

export async function runLogin(
  root: string,
  registry: string | undefined,
  opts: LoginOptions,
  registryOptions: RegistryOptions = {},
): Promise<void> {
  const host = normalizeRegistryHost(registry ?? DOCKER_HUB_HOST);
  if (!opts.username) throw new UserError("login: a user name is needed: -u USER");
  const password = await passwordOf(opts);
  await verifyLogin(host, { username: opts.username, password }, { ...registryOptions, storeRoot: root });
  await saveCredentials(root, host, opts.username, password);
  process.stdout.write("Login Succeeded\n");
}

export async function runLogout(root: string, registry: string | undefined): Promise<void> {
  const host = normalizeRegistryHost(registry ?? DOCKER_HUB_HOST);
  if (await removeCredentials(root, host)) process.stdout.write(`Removing login credentials for ${host}\n`);
  else process.stdout.write(`Not logged in to ${host}\n`);
}
