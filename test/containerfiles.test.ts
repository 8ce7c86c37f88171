// The container commands Docker's users type: run -i (standard input forwarded) and -v (bind mounts),
// diff (the writable layer against the image, Docker's A/C/D), export (the root filesystem as a tar)
// and container inspect.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseRunArgs } from "../cli/commands/runargs.js";
import { TSBUILD, collect, freshStore, removeStore, tsbuild, tsbuildOk } from "./helpers.js";

let root: string;
let dir: string;

before(async () => {
  root = await freshStore();
  dir = await mkdtemp(join(tmpdir(), "tsbuild-containerfiles-"));
});
after(async () => {
  await removeStore(root);
  await rm(dir, { recursive: true, force: true });
});

const ts = async (...args: string[]): Promise<string> => (await tsbuildOk(["--root", root, ...args])).stdout;

test("run flags: -it, -i, -v with ro; named volumes refused", () => {
  const r = parseRunArgs(["-it", "--rm", "-v", "/a:/b:ro", "-v", "/c:/d", "img", "sh"]);
  assert.ok(r !== "help");
  assert.equal(r.flags.interactive, true);
  assert.equal(r.flags.tty, true);
  assert.deepEqual(r.flags.volumes, [{ source: "/a", target: "/b", readOnly: true }, { source: "/c", target: "/d", readOnly: false }]);
  assert.throws(() => parseRunArgs(["-v", "data:/d", "img"]), /named volumes are not supported/);
});

test("run -i forwards standard input; -v binds a host folder (read-only with :ro)", async () => {
  const child = spawn(process.execPath, [TSBUILD, "--root", root, "run", "--rm", "-i", "busybox:local", "sh", "-c", "tr a-z A-Z"], { stdio: ["pipe", "pipe", "pipe"] });
  child.stdin.end("hello stdin\n");
  const r = await collect(child);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "HELLO STDIN\n");
  const host = join(dir, "shared");
  execFileSync("mkdir", ["-p", host]);
  await writeFile(join(host, "in.txt"), "from the host\n");
  assert.equal(await ts("run", "--rm", "-v", `${host}:/mnt/h`, "busybox:local", "sh", "-c", "cat /mnt/h/in.txt; echo back > /mnt/h/out.txt"), "from the host\n");
  assert.equal(await readFile(join(host, "out.txt"), "utf8"), "back\n");
  const ro = await tsbuild(["--root", root, "run", "--rm", "-v", `${host}:/mnt/h:ro`, "busybox:local", "sh", "-c", "echo x > /mnt/h/no.txt"]);
  assert.notEqual(ro.code, 0);
  assert.match(ro.stderr, /Read-only file system/);
  // a command that cannot start: one line (not runc's copy of it as well), Docker's 127
  const cannot = await tsbuild(["--root", root, "run", "--rm", "busybox:local", "no-such-command"]);
  assert.equal(cannot.code, 127);
  assert.equal(cannot.stderr, 'error: unable to start container process: exec: "no-such-command": executable file not found in $PATH\n');
  const missing = await tsbuild(["--root", root, "run", "--rm", "-v", "/nonexistent/dir:/x", "busybox:local", "true"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /bind source path does not exist: \/nonexistent\/dir/);
});

test("diff shows A, C and D against the image; export writes the root filesystem; container inspect", async () => {
  await ts("run", "--name", "changer", "busybox:local", "sh", "-c", "mkdir /new && echo n > /new/f && echo root2 >> /etc/passwd && rm /bin/vi");
  assert.equal(await ts("diff", "changer"), "C /bin\nD /bin/vi\nC /etc\nC /etc/passwd\nA /new\nA /new/f\n");
  assert.equal(await ts("container", "diff", "changer"), "C /bin\nD /bin/vi\nC /etc\nC /etc/passwd\nA /new\nA /new/f\n");
  const exported = spawnSync(process.execPath, [TSBUILD, "--root", root, "export", "changer"], { maxBuffer: 64 << 20 });
  assert.equal(exported.status, 0, exported.stderr.toString());
  const names = execFileSync("tar", ["-t"], { input: exported.stdout, maxBuffer: 64 << 20 }).toString().split("\n").map((n) => n.replace(/^\.\//, "").replace(/\/$/, ""));
  assert.ok(names.includes("new/f") && names.includes("bin/busybox"));
  assert.ok(!names.includes("bin/vi"), "a deleted file is not in the export");
  const file = join(dir, "changer.tar");
  await ts("export", "-o", file, "changer");
  assert.equal(execFileSync("tar", ["-xOf", file, "new/f"], { encoding: "utf8" }), "n\n");
  const info = JSON.parse(await ts("container", "inspect", "changer")) as Array<{ Name: string; State: { Status: string; ExitCode: number }; Path: string }>;
  assert.equal(info[0]?.Name, "/changer");
  assert.equal(info[0]?.State.Status, "exited");
  assert.equal(await ts("container", "inspect", "-f", "{{.State.ExitCode}} {{.Config.Image}}", "changer"), "0 busybox:local\n");
  await ts("rm", "changer");
  // a run that changes nothing has no changes: /etc, copied up for runc's /etc/hosts stub and put back, is not one
  await ts("run", "--name", "idle", "busybox:local", "true");
  assert.equal(await ts("diff", "idle"), "");
  await ts("rm", "idle");
});

test("ps --filter as Docker's: name (a regex, with or without the slash), status (lists stopped ones without -a), exited, id, label, ancestor; keys all apply, values of one key are alternatives", async () => {
  assert.equal((await tsbuild(["--root", root, "run", "--name", "pf-one", "busybox:local", "sh", "-c", "exit 4"])).code, 4);
  await ts("commit", "-c", "LABEL team=x", "pf-one", "pf-labelled:1");
  await ts("run", "--name", "pf-two", "pf-labelled:1", "true");
  try {
    const names = async (...filters: string[]) => (await ts("ps", "-a", "--format", "{{.Names}}", ...filters.flatMap((f) => ["--filter", f]))).trim().split("\n").filter(Boolean).sort();
    assert.deepEqual(await names("name=^pf-"), ["pf-one", "pf-two"]);
    assert.deepEqual(await names("name=^/pf-o"), ["pf-one"]);
    assert.deepEqual(await names("name=pf-", "exited=4"), ["pf-one"]);
    assert.deepEqual(await names("name=pf-", "label=team"), ["pf-two"]);
    assert.deepEqual(await names("label=team=y"), []);
    assert.deepEqual(await names("ancestor=pf-labelled:1"), ["pf-two"]);
    assert.deepEqual(await names("name=pf-one", "name=pf-two"), ["pf-one", "pf-two"]);
    const id = (await ts("container", "inspect", "-f", "{{.Id}}", "pf-two")).trim();
    assert.deepEqual(await names(`id=${id.slice(0, 6)}`), ["pf-two"]);
    // a status filter lists stopped containers without -a
    assert.deepEqual((await ts("ps", "--filter", "status=exited", "--filter", "name=pf-", "--format", "{{.Names}}")).trim().split("\n").sort(), ["pf-one", "pf-two"]);
    assert.equal(await ts("ps", "--filter", "status=running", "--filter", "name=pf-", "-q"), "");
    const bad = await tsbuild(["--root", root, "ps", "--filter", "bogus=1"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid filter 'bogus=1'/);
  } finally {
    await ts("rm", "pf-one", "pf-two");
    await ts("rmi", "pf-labelled:1");
  }
});
