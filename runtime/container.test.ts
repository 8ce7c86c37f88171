import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, access, stat } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import type { Digest } from "../common/digest.js";
import type { StorePaths } from "../common/storepaths.js";
import { mountSpec } from "./mountspec.js";
import { Snapshotter, type ActiveSnapshot } from "./snapshotter.js";
import { runContainer, RUNC, type ContainerSpec } from "./container.js";
import { mountsUnder } from "./mounts.js";
import { tempStore, busyboxSnapshot } from "./testsupport.js";

let store: Awaited<ReturnType<typeof tempStore>>;
let paths: StorePaths;
let snap: Snapshotter;
let base: Digest;

before(async () => {
  store = await tempStore();
  paths = store.paths;
  snap = new Snapshotter(paths);
  base = await busyboxSnapshot(snap);
});
after(async () => {
  await store.cleanup();
});

const root = { uid: 0, gid: 0, additionalGids: [] };

/** Runs a shell script in a fresh active snapshot over busybox; returns exit code, output, the active. */
async function sh(
  script: string,
  extra: Partial<ContainerSpec> = {},
): Promise<{ exitCode: number; stdout: string; stderr: string; active: ActiveSnapshot }> {
  const active = await snap.prepare(base);
  const m = await mountSpec(await snap.mounts(active), paths.tmp);
  let stdout = "";
  let stderr = "";
  try {
    const r = await runContainer(paths, {
      rootfs: m.rootfs,
      args: ["/bin/sh", "-c", script],
      env: [],
      cwd: "/",
      user: root,
      network: "none",
      onOutput: (s, c) => (s === "stdout" ? (stdout += c.toString()) : (stderr += c.toString())),
      ...extra,
    });
    return { exitCode: r.exitCode, stdout, stderr, active };
  } finally {
    await m.unmount();
  }
}

async function runcList(): Promise<string[]> {
  const r = await execa(RUNC, ["--root", paths.runcState, "list", "-q"], { reject: false });
  return r.stdout.split("\n").filter((l) => l !== "");
}

test("exit codes propagate and output is captured per stream", async () => {
  const r = await sh("echo out; echo err >&2; exit 7");
  assert.equal(r.exitCode, 7);
  assert.equal(r.stdout, "out\n");
  assert.equal(r.stderr, "err\n");
  assert.equal((await sh("true")).exitCode, 0);
});

test("files written by the run land in the upper dir; mount stubs do not", async () => {
  const r = await sh("mkdir -p /x && echo hi > /x/f && cat /etc/hosts && rm /bin/ls");
  assert.equal(r.exitCode, 0);
  assert.match(r.stdout, /^127\.0\.0\.1\tlocalhost buildkitsandbox$/m, "/etc/hosts visible inside");
  assert.equal(await readFile(join(r.active.upper, "x", "f"), "utf8"), "hi\n");
  const whiteout = await stat(join(r.active.upper, "bin", "ls"));
  assert.ok(whiteout.isCharacterDevice() && whiteout.rdev === 0, "a deletion is a 0:0 char device");
  // As BuildKit (dockerd 26) on busybox: `RUN true` leaves dev/ etc/ proc/ sys/ (empty) in the layer,
  // but never etc/hosts or etc/resolv.conf.
  assert.deepEqual((await readdir(r.active.upper)).sort(), ["bin", "dev", "etc", "proc", "sys", "x"]);
  assert.deepEqual(await readdir(join(r.active.upper, "etc")), []);
  assert.deepEqual(await readdir(join(r.active.upper, "proc")), []);
  assert.deepEqual(await mountsUnder(paths.root), []);
  assert.deepEqual(await runcList(), []);
  assert.deepEqual(await readdir(paths.tmp), [], "bundle removed");
});

test("/etc/hosts is mounted read-only", async () => {
  const first = await sh("echo '1.2.3.4 mine' > /etc/hosts");
  assert.equal(first.exitCode, 1, "/etc/hosts is mounted read-only");
  assert.match(first.stderr, /Read-only file system/);
});

test("the process runs as the given user, with HOME, PATH and a created working dir", async () => {
  const r = await sh("id; echo HOME=$HOME; echo PATH=$PATH; pwd; stat -c '%u:%g %a' /work/dir", {
    user: { uid: 1000, gid: 1000, additionalGids: [] },
    cwd: "/work/dir",
  });
  assert.equal(r.exitCode, 0, r.stderr);
  // BuildKit prints groups=<primary gid> too.
  assert.equal(
    r.stdout,
    "uid=1000(app) gid=1000(app) groups=1000(app)\nHOME=/home/app\nPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n/work/dir\n0:0 755\n",
  );
  const env = await sh("echo $HOME $PATH $FOO", { env: ["PATH=/bin", "HOME=/h", "FOO=bar"] });
  assert.equal(env.stdout, "/h /bin bar\n");
});

test("Docker's default capabilities, hostname buildkitsandbox, no-new-privileges off", async () => {
  const r = await sh("grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status; hostname");
  assert.equal(r.stdout, "CapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\nNoNewPrivs:\t0\nbuildkitsandbox\n");
});

test("network none has only lo; network host sees the host's interfaces", async () => {
  const none = await sh("ls /sys/class/net");
  assert.equal(none.stdout, "lo\n");
  const hostIfs = (await readdir("/sys/class/net")).sort();
  const host = await sh("ls /sys/class/net", { network: "host" });
  assert.deepEqual(host.stdout.trim().split(/\s+/).sort(), hostIfs);
});

test("an aborted run leaves no mount, no runc container and no bundle", async () => {
  const ac = new AbortController();
  const active = await snap.prepare(base);
  const m = await mountSpec(await snap.mounts(active), paths.tmp);
  let started = false;
  const timer = setInterval(() => {
    if (started) ac.abort(new Error("cancelled"));
  }, 20);
  try {
    await assert.rejects(
      runContainer(paths, {
        rootfs: m.rootfs,
        args: ["/bin/sh", "-c", "echo started; sleep 60"],
        env: [],
        cwd: "/",
        user: root,
        network: "none",
        onOutput: () => (started = true),
        signal: ac.signal,
      }),
      /cancelled/,
    );
  } finally {
    clearInterval(timer);
    await m.unmount();
  }
  assert.deepEqual(await runcList(), []);
  assert.deepEqual(await mountsUnder(paths.root), []);
  assert.deepEqual(await readdir(paths.tmp), []);
  await assert.rejects(access(join(active.upper, "etc", "hosts")));
});

test("a command that cannot start reports runc's reason", async () => {
  const active = await snap.prepare(base);
  const m = await mountSpec(await snap.mounts(active), paths.tmp);
  try {
    const r = await runContainer(paths, { rootfs: m.rootfs, args: ["nosuchcmd"], env: [], cwd: "/", user: root, network: "none" });
    assert.equal(r.exitCode, 1);
    assert.equal(r.startError, 'unable to start container process: exec: "nosuchcmd": executable file not found in $PATH');
    assert.equal((await sh("exit 1")).exitCode, 1);
  } finally {
    await m.unmount();
  }
});

test("a run aborted before it starts does not run the command", async () => {
  const ac = new AbortController();
  ac.abort(new Error("early"));
  const r = sh("touch /ran", { signal: ac.signal });
  await assert.rejects(r, /early/);
  assert.deepEqual(await runcList(), []);
});
