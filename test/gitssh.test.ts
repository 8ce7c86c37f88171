// ADD of a `git@host:repo.git` repository through an sshd the test starts on 127.0.0.1 (Debian's
// openssh-server), with its own config, host key and authorized key in a temp folder. The `git` login
// is a line of a passwd file bound over /etc/passwd in sshd's own mount namespace only (unshare -m), so
// the host's accounts are untouched. Git reaches the port, the key and the host key through
// GIT_SSH_COMMAND, as a user's own ssh setup would: tsbuild leaves it to the user's environment, and
// with `--ssh default=SOCKET` hands git that agent (as BuildKit's git source takes the default agent).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { collect, freshStore, removeStore, TSBUILD, REPO, type RunResult } from "./helpers.js";

const SSHD = "/usr/sbin/sshd";

let dir: string;
let root: string;
let sshd: ChildProcess | undefined;
let agent: ChildProcess | undefined;
let agentSocket: string;
let sshBase: string; // the ssh command without a key: the agent's, or -i KEY added

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer().once("error", fail).listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => ok(typeof a === "object" && a ? a.port : 0));
    });
  });
}

function gitIn(cwd: string, ...args: string[]): string {
  return execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "init.defaultBranch=main", ...args], { cwd, encoding: "utf8" });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "tsbuild-gitssh-"));
  const work = join(dir, "work");
  await mkdir(join(work, "sub"), { recursive: true });
  await writeFile(join(work, "a.txt"), "over ssh\n");
  await writeFile(join(work, "sub", "b.txt"), "b\n");
  await writeFile(join(work, "sub", "Dockerfile"), "FROM busybox:local\nCOPY b.txt /from-ssh-context\n");
  gitIn(dir, "init", "-q", work);
  gitIn(work, "add", ".");
  gitIn(work, "commit", "-q", "-m", "one");
  await mkdir(join(dir, "srv"));
  gitIn(join(dir, "srv"), "clone", "-q", "--bare", work, "repo.git");

  for (const k of ["host", "client"]) execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", k, "-f", join(dir, k)]);
  await writeFile(join(dir, "authorized_keys"), await readFile(join(dir, "client.pub")));
  // the host's accounts, minus any git of its own, plus a git login (uid 0) whose home holds the repository
  const passwd = (await readFile("/etc/passwd", "utf8")).split("\n").filter((l) => l !== "" && !l.startsWith("git:"));
  await writeFile(join(dir, "passwd"), [...passwd, `git:x:0:0:git:${join(dir, "srv")}:/bin/sh`, ""].join("\n"));
  const port = await freePort();
  await writeFile(join(dir, "sshd_config"), [
    `Port ${port}`, "ListenAddress 127.0.0.1", `HostKey ${join(dir, "host")}`, `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
    "PasswordAuthentication no", "KbdInteractiveAuthentication no", "PermitRootLogin yes", "StrictModes no", "UsePAM no", "PidFile none", "",
  ].join("\n"));
  const hostKey = (await readFile(join(dir, "host.pub"), "utf8")).split(" ").slice(0, 2).join(" ");
  await writeFile(join(dir, "known_hosts"), `[127.0.0.1]:${port} ${hostKey}\n`);
  // unshare execs sh, which execs sshd: the pid is sshd's
  const script = `mount --bind "$1/passwd" /etc/passwd && mount -t tmpfs tmpfs /run && mkdir /run/sshd && exec ${SSHD} -D -e -f "$1/sshd_config"`;
  sshd = spawn("unshare", ["-m", "--propagation", "private", "sh", "-c", script, "sh", dir], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  await new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`sshd did not start: ${log}`)), 10_000);
    sshd?.stderr?.setEncoding("utf8").on("data", (s: string) => {
      log += s;
      if (log.includes("Server listening")) { clearTimeout(timer); ok(); }
    });
    sshd?.once("exit", (code) => { clearTimeout(timer); fail(new Error(`sshd exited ${code}: ${log}`)); });
  });
  sshBase = `ssh -F /dev/null -p ${port} -o UserKnownHostsFile=${join(dir, "known_hosts")} -o StrictHostKeyChecking=yes -o BatchMode=yes -o KexAlgorithms=curve25519-sha256`;

  agentSocket = join(dir, "agent.sock");
  agent = spawn("ssh-agent", ["-D", "-a", agentSocket], { stdio: "ignore" });
  for (let i = 0; i < 100 && !existsSync(agentSocket); i++) await new Promise((r) => setTimeout(r, 50));
  execFileSync("ssh-add", ["-q", join(dir, "client")], { env: { ...process.env, SSH_AUTH_SOCK: agentSocket }, stdio: "pipe" });
  root = await freshStore();
});

after(async () => {
  sshd?.kill();
  agent?.kill();
  if (root) await removeStore(root);
  await rm(dir, { recursive: true, force: true });
});

/** bin/tsbuild with this environment (the user's GIT_SSH_COMMAND, no agent of the machine's). */
function tsbuildWith(args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  const clean = { ...process.env };
  delete clean.SSH_AUTH_SOCK;
  delete clean.GIT_SSH_COMMAND;
  const child = spawn(process.execPath, [TSBUILD, ...args], { cwd: REPO, env: { ...clean, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  return collect(child);
}

async function build(dockerfile: string, tag: string, env: NodeJS.ProcessEnv, extra: string[] = []): Promise<RunResult> {
  const ctx = join(dir, "ctx");
  await mkdir(ctx, { recursive: true });
  await writeFile(join(ctx, "Dockerfile"), dockerfile);
  return tsbuildWith(["--root", root, "build", "-q", "-t", tag, ...extra, ctx], env);
}

const cat = async (image: string, cmd: string): Promise<string> => {
  const r = await tsbuildWith(["--root", root, "run", "--rm", image, "sh", "-c", cmd], {});
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
};

test("ADD git@127.0.0.1:repo.git with the user's ssh command and key; a subfolder of a branch", async () => {
  const env = { GIT_SSH_COMMAND: `${sshBase} -i ${join(dir, "client")} -o IdentitiesOnly=yes -o IdentityAgent=none` };
  const r = await build("FROM busybox:local\nADD git@127.0.0.1:repo.git /src\nADD git@127.0.0.1:repo.git#main:sub /sub\n", "gitssh:1", env);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await cat("gitssh:1", "cat /src/a.txt /sub/b.txt; test -e /src/.git || echo no-git-dir"), "over ssh\nb\nno-git-dir\n");
});

test("--ssh default=SOCKET is the agent git uses for ssh remotes (ADD, the build context); without an agent or key, one line naming the line", async () => {
  const env = { GIT_SSH_COMMAND: sshBase }; // no key of its own: only an agent can answer
  const df = "FROM busybox:local\nADD --keep-git-dir=true git@127.0.0.1:repo.git /kept\n";
  const withAgent = await build(df, "gitssh:2", env, ["--ssh", `default=${agentSocket}`]);
  assert.equal(withAgent.code, 0, withAgent.stderr);
  assert.equal(await cat("gitssh:2", "cat /kept/a.txt; test -d /kept/.git && echo kept"), "over ssh\nkept\n");

  // the repository as the build context takes the same agent
  const context = await tsbuildWith(["--root", root, "build", "-q", "-t", "gitssh:ctx", "--ssh", `default=${agentSocket}`, "git@127.0.0.1:repo.git#main:sub"], env);
  assert.equal(context.code, 0, context.stderr);
  assert.equal(await cat("gitssh:ctx", "cat /from-ssh-context"), "b\n");

  const none = await build(df.replace("/kept", "/other"), "gitssh:3", env);
  assert.equal(none.code, 1);
  const lines = none.stderr.trim().split("\n");
  assert.equal(lines.length, 1, none.stderr);
  assert.match(lines[0] ?? "", /^error: \S*Dockerfile:2: ADD git git@127\.0\.0\.1:repo\.git: .*(Permission denied|Could not read from remote repository)/);
  assert.deepEqual((await readdir(join(root, "tmp"))).filter((n) => n.startsWith("addgit")), [], "no checkout is left");
});
