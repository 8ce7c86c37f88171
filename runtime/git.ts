// Git sources (ADD of a repository, a repository as the build context), fetched with Debian's `git`
// client as BuildKit does it: the ref resolved to a commit (`git ls-remote`), a shallow fetch of it,
// a checkout, submodules updated shallowly, `.git` kept only when asked (--keep-git-dir). References
// are read as BuildKit's gitutil.ParseGitRef reads them: `https://host/repo.git#ref:subdir`,
// `git@host:repo.git`, `git://…`, `ssh://…`.
import { mkdir, readFile, readdir, rename, rm, stat } from "node:fs/promises";
import { join, posix } from "node:path";
import { UserError, errnoCode } from "../common/errors.js";
import { runTool } from "./exec.js";
import { noteOutsideReached } from "../common/outside.js";

export interface GitSource {
  /** The repository as git reaches it. */
  remote: string;
  /** A branch, tag or commit (the remote's HEAD when absent). */
  ref?: string;
  /** A folder of the repository to take instead of its root. */
  subdir?: string;
}

const GIT = "git";

/** How git reaches a remote beyond the user's own configuration. */
export interface GitAccess {
  /** The agent socket of `--ssh default`, for ssh remotes (else the environment's SSH_AUTH_SOCK). */
  sshAuthSock?: string;
}

/** The git reference in `source`, or undefined when it is not one (BuildKit's rules). */
export function parseGitSource(source: string): GitSource | undefined {
  const hash = source.indexOf("#");
  const remote = hash < 0 ? source : source.slice(0, hash);
  const fragment = hash < 0 ? "" : source.slice(hash + 1);
  const isGit = /^git@[^:/]+:/.test(remote) || /^(git|ssh|git\+ssh):\/\//.test(remote) || (/^https?:\/\//.test(remote) && /\.git$/.test(urlPath(remote)));
  if (!isGit) return undefined;
  const colon = fragment.indexOf(":");
  const ref = colon < 0 ? fragment : fragment.slice(0, colon);
  const subdir = colon < 0 ? "" : fragment.slice(colon + 1);
  return { remote, ...(ref ? { ref } : {}), ...(subdir ? { subdir } : {}) };
}

function urlPath(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return ""; // not a URL at all: not a git reference either
  }
}

/** What errors show of a remote: never credentials in a URL. */
function shown(remote: string): string {
  return remote.replace(/\/\/[^/@]*@/, "//").slice(0, 200);
}

async function git(args: string[], cwd: string | undefined, what: string, access: GitAccess = {}): Promise<string> {
  noteOutsideReached(); // a local repository too: what it holds may change between builds
  // The user's git and ssh configuration stand (a daemonless builder runs as its user: their
  // GIT_SSH_COMMAND, ~/.ssh/config and agent reach git@host remotes); never a prompt; a repository
  // cannot take submodules from the local filesystem (protocol.file.allow=user, as BuildKit's git).
  const env = { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_ASKPASS: "true", ...(access.sshAuthSock ? { SSH_AUTH_SOCK: access.sshAuthSock } : {}) };
  const r = await runTool(GIT, ["-c", "protocol.file.allow=user", ...args], { ...(cwd ? { cwd } : {}), env });
  if (r.exitCode === 0) return r.output;
  // a server that cannot fetch shallowly (git's dumb http): again without --depth, as BuildKit's git does
  if (args.includes("--depth=1") && /shallow|--depth/.test(r.output)) return git(args.filter((a) => a !== "--depth=1"), cwd, what, access);
  throw new UserError(`${what}: ${gitFailure(r.output, r.exitCode)}`);
}

/**
 * The one line that says why git failed: its first `fatal:`/`error:` line, after the line before it
 * when that is the transport's reason (ssh's "Permission denied (publickey).", "Host key verification
 * failed."); git's advice after it ("Please make sure you have the correct access rights…") is left out.
 */
export function gitFailure(output: string, exitCode: number): string {
  const lines = output.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const at = lines.findIndex((l) => /^(fatal|error): /.test(l));
  if (at < 0) return (lines.at(-1) ?? `exit code ${exitCode}`).slice(0, 300);
  const main = (lines[at] as string).replace(/^(fatal|error): /, "");
  const before = at > 0 ? (lines[at - 1] as string) : "";
  const reason = before !== "" && !/^(hint|warning|remote):/.test(before) ? `${before.replace(/\.$/, "")}; ` : "";
  return `${reason}${main}`.slice(0, 300);
}

/** The commit `src` names now (a full commit id as it is; else `git ls-remote`). */
export async function resolveGitCommit(src: GitSource, access: GitAccess = {}): Promise<string> {
  if (src.ref !== undefined && /^[0-9a-f]{40}$/.test(src.ref)) return src.ref;
  const want = src.ref ?? "HEAD";
  const out = await git(["ls-remote", "--", src.remote, want, `refs/heads/${want}`, `refs/tags/${want}`, `refs/tags/${want}^{}`], undefined, `git ${shown(src.remote)}`, access);
  const lines = out.split("\n").map((l) => l.split("\t")).filter((p) => p.length === 2) as Array<[string, string]>;
  // An annotated tag's commit is the peeled `^{}` line; then a branch, a tag, HEAD, the name as given.
  const order = [`refs/tags/${want}^{}`, `refs/heads/${want}`, `refs/tags/${want}`, want];
  for (const name of order) {
    const hit = lines.find(([, n]) => n === name);
    if (hit) return hit[0];
  }
  throw new UserError(`git ${shown(src.remote)}: no ref ${want.slice(0, 100)} in the repository`);
}

/**
 * The `.git` that --keep-git-dir keeps, as BuildKit 0.13's leaves it (compared through the oracle): the
 * fetched branch or tag under its own name (BuildKit fetches `ref:ref`), no remote-tracking refs, the
 * remote's URL without credentials, no reflog, no FETCH_HEAD.
 */
async function keepGitDir(work: string, src: GitSource, what: string): Promise<void> {
  const fetched = await readFile(join(work, ".git", "FETCH_HEAD"), "utf8").catch((e: unknown) => {
    if (errnoCode(e) === "ENOENT") return ""; // nothing was fetched by name
    throw e;
  });
  // "<sha>\t\tbranch 'main' of <remote>" or "<sha>\t\ttag 'v1' of <remote>" (a commit id fetched: no name)
  const named = /^([0-9a-f]{40,64})\t[^\t]*\t(branch|tag) '([^']+)' of /.exec(fetched);
  if (named) {
    const [, sha, kind, name] = named as unknown as [string, string, string, string];
    await git(["update-ref", `refs/${kind === "branch" ? "heads" : "tags"}/${name}`, sha], work, what);
    // BuildKit keeps every fetched ref as tags/REF in its bare repository, and its checkout's fetch of
    // REF:REF brings that along: a branch is under refs/tags too
    if (kind === "branch") await git(["update-ref", `refs/tags/${name}`, sha], work, what);
  }
  // the remote-tracking refs git updates while fetching by name: BuildKit's checkout has none
  for (const ref of (await git(["for-each-ref", "--format=%(refname)", "refs/remotes/"], work, what)).split("\n")) {
    if (ref.startsWith("refs/remotes/")) await git(["update-ref", "-d", ref], work, what);
  }
  for (const dir of [["refs", "remotes"], ["logs", "refs", "remotes"]]) await rm(join(work, ".git", ...dir), { recursive: true, force: true });
  await git(["remote", "set-url", "origin", shown(src.remote)], work, what);
  await git(["reflog", "expire", "--all", "--expire=now"], work, what);
  await rm(join(work, ".git", "FETCH_HEAD"), { force: true });
}

/**
 * Checks `commit` of the repository out into `dest` (created; must not exist): the subdir's contents
 * when one is given, `.git` only with keepGitDir (and no subdir), submodules updated.
 */
export async function checkoutGit(src: GitSource, commit: string, dest: string, opts: { keepGitDir?: boolean } & GitAccess = {}): Promise<void> {
  const access: GitAccess = opts.sshAuthSock ? { sshAuthSock: opts.sshAuthSock } : {};
  const what = `git ${shown(src.remote)}${src.ref ? `#${src.ref.slice(0, 100)}` : ""}`;
  const work = `${dest}.checkout`;
  await mkdir(work, { recursive: true });
  try {
    await git(["-c", "init.defaultBranch=master", "init", "-q"], work, what);
    await git(["remote", "add", "origin", src.remote], work, what);
    // Fetch the ref by name (any server allows it), then check the commit it gave is the one resolved.
    const ref = src.ref !== undefined && !/^[0-9a-f]{40}$/.test(src.ref) ? src.ref : undefined;
    try {
      await git(["fetch", "-q", "--depth=1", "--no-tags", "origin", ref ?? commit], work, what, access);
    } catch (e) {
      if (ref !== undefined) throw e;
      await git(["fetch", "-q", "--no-tags", "origin"], work, what, access); // a server that refuses to fetch a bare commit
    }
    await git(["-c", "advice.detachedHead=false", "checkout", "-q", commit], work, what);
    await git(["submodule", "update", "-q", "--init", "--recursive", "--depth=1"], work, `${what}: submodules`, access);
    const subdir = posix.normalize(`/${src.subdir ?? ""}`).slice(1);
    if (subdir === "") {
      if (!opts.keepGitDir) await rm(join(work, ".git"), { recursive: true, force: true });
      else await keepGitDir(work, src, what);
      await rename(work, dest);
      return;
    }
    const from = join(work, subdir);
    const st = await stat(from).catch(() => undefined);
    if (!st?.isDirectory()) throw new UserError(`${what}: no folder ${subdir.slice(0, 100)} in the repository at ${commit.slice(0, 12)}`);
    await mkdir(dest);
    for (const name of await readdir(from)) await rename(join(from, name), join(dest, name));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
