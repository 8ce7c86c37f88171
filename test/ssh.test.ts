// RUN --mount=type=ssh with --ssh: an ssh-agent the test starts (holding a key made with ssh-keygen)
// answers inside the step, through a small static client the test compiles (busybox has no ssh-add):
// it asks the agent for its identities (SSH_AGENTC_REQUEST_IDENTITIES) and prints how many it holds.
// Without --ssh a required mount is a one-line error; a key file is refused; nothing reaches the layer.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freshStore, removeStore, tsbuild, tsbuildOk } from "./helpers.js";

const CLIENT = `#include <sys/socket.h>
#include <sys/un.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(void) {
  const char *p = getenv("SSH_AUTH_SOCK");
  if (!p) { fprintf(stderr, "no SSH_AUTH_SOCK\\n"); return 2; }
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un a; memset(&a, 0, sizeof a); a.sun_family = AF_UNIX; strncpy(a.sun_path, p, sizeof a.sun_path - 1);
  if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) { perror("connect"); return 3; }
  unsigned char req[5] = {0, 0, 0, 1, 11};
  if (write(s, req, 5) != 5) return 4;
  unsigned char h[9]; size_t n = 0;
  while (n < 9) { ssize_t r = read(s, h + n, 9 - n); if (r <= 0) return 5; n += (size_t)r; }
  if (h[4] != 12) { fprintf(stderr, "unexpected reply %d\\n", h[4]); return 6; }
  printf("%u\\n", (unsigned)((h[5] << 24) | (h[6] << 16) | (h[7] << 8) | h[8]));
  return 0;
}
`;

let root: string;
let dir: string;
let ctx: string;
let agent: ChildProcess;
let socket: string;

before(async () => {
  root = await freshStore();
  dir = await mkdtemp(join(tmpdir(), "tsbuild-ssh-"));
  ctx = join(dir, "ctx");
  execFileSync("mkdir", ["-p", ctx]);
  await writeFile(join(dir, "agentcount.c"), CLIENT);
  execFileSync("cc", ["-static", "-O2", "-o", join(ctx, "agentcount"), join(dir, "agentcount.c")]);
  socket = join(dir, "agent.sock");
  agent = spawn("ssh-agent", ["-D", "-a", socket], { stdio: "ignore" });
  for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "key")]);
  execFileSync("ssh-add", ["-q", join(dir, "key")], { env: { ...process.env, SSH_AUTH_SOCK: socket }, stdio: "pipe" });
});
after(async () => {
  agent?.kill();
  await removeStore(root);
  await rm(dir, { recursive: true, force: true });
});

async function build(dockerfile: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  await writeFile(join(ctx, "Dockerfile"), dockerfile);
  return tsbuild(["--root", root, "build", "-q", ...args, ctx]);
}

test("the agent answers inside the step (default id, SSH_AUTH_SOCK set); nothing of it is in the layer", async () => {
  const r = await build("FROM busybox:local\nRUN --mount=type=ssh --mount=type=bind,source=agentcount,target=/agentcount /agentcount > /count && echo $SSH_AUTH_SOCK > /sock\n", ["-t", "ssh:1", "--ssh", `default=${socket}`]);
  assert.equal(r.code, 0, r.stderr);
  const out = (await tsbuildOk(["--root", root, "run", "--rm", "ssh:1", "sh", "-c", "cat /count /sock; ls -A /run 2>/dev/null | wc -l"])).stdout;
  assert.equal(out, "1\n/run/buildkit/ssh_agent.0\n0\n");
  const named = await build("FROM busybox:local\nRUN --mount=type=ssh,id=deploy,target=/agent.sock --mount=type=bind,source=agentcount,target=/agentcount SSH_AUTH_SOCK=/agent.sock /agentcount > /count\n", ["-t", "ssh:2", "--ssh", `deploy=${socket}`]);
  assert.equal(named.code, 0, named.stderr);
  assert.equal((await tsbuildOk(["--root", root, "run", "--rm", "ssh:2", "cat", "/count"])).stdout, "1\n");
});

test("a required ssh mount without --ssh, --ssh default without an agent, and a key file as --ssh, are one-line errors", async () => {
  const missing = await build("FROM busybox:local\nRUN --mount=type=ssh,required=true true\n", []);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /Dockerfile:2: RUN --mount=type=ssh: no SSH agent socket for id default \(build with --ssh default\)/);
  const optional = await build("FROM busybox:local\nRUN --mount=type=ssh test -z \"$SSH_AUTH_SOCK\"\n", []);
  assert.equal(optional.code, 0, optional.stderr);
  const saved = process.env.SSH_AUTH_SOCK;
  delete process.env.SSH_AUTH_SOCK; // the CLI the test starts inherits the environment
  const noAgent = await build("FROM busybox:local\nRUN --mount=type=ssh true\n", ["--ssh", "default"]).finally(() => {
    if (saved !== undefined) process.env.SSH_AUTH_SOCK = saved;
  });
  assert.notEqual(noAgent.code, 0);
  assert.equal(noAgent.stderr, "error: --ssh default: SSH_AUTH_SOCK is not set: start ssh-agent and add your key (ssh-add), or give --ssh default=SOCKET\n");
  const key = await build("FROM busybox:local\nRUN --mount=type=ssh true\n", ["--ssh", `default=${join(dir, "key")}`]);
  assert.equal(key.code, 1);
  assert.match(key.stderr, /--ssh default: .*key is not an agent socket: load the key into ssh-agent/);
});
