// `build --platform linux/arm64` builds arm64 (RUN through the binfmt_misc emulator `make test` sets up
// from Debian's qemu-user-static), from an arm64 base made from Debian's busybox-static:arm64; an amd64
// base is refused for it; FROM scratch is labelled with the platform; TARGETARCH and BUILDARCH as
// BuildKit sets them; a platform nothing here can run is refused before any step (several platforms:
// test/multiplatform.test.ts).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ARM64_EMULATION_MISSING, BUSYBOX_CHANGES, REPO, freshStore, removeStore, tsbuild, tsbuildOk } from "./helpers.js";

const ARM64_BUSYBOX = join(REPO, ".tmp", "busybox-arm64", "bin", "busybox");
let root: string;
let dir: string;

before(async () => {
  assert.ok(existsSync(ARM64_BUSYBOX), `${ARM64_BUSYBOX} is made by \`make test\` (Debian's busybox-static:arm64)`);
  root = await freshStore();
  dir = await mkdtemp(join(tmpdir(), "tsbuild-platform-"));
  const tar = join(dir, "busybox-arm64.tar");
  execFileSync(join(REPO, "testdata", "busybox", "make-rootfs.sh"), [tar], { env: { ...process.env, BUSYBOX: ARM64_BUSYBOX } });
  await tsbuildOk(["--root", root, "import", tar, "busybox-arm64:local", ...BUSYBOX_CHANGES]);
  // imported, it is labelled with this machine's platform: the first test builds the arm64 base from its files
});
after(async () => {
  await removeStore(root);
  await rm(dir, { recursive: true, force: true });
});

async function build(args: string[], dockerfile: string): Promise<{ code: number | null; stderr: string }> {
  const ctx = await mkdtemp(join(dir, "ctx-"));
  await writeFile(join(ctx, "Dockerfile"), dockerfile);
  return tsbuild(["--root", root, "build", "-q", ...args, ctx]);
}

const field = async (image: string, f: string): Promise<string> => (await tsbuildOk(["--root", root, "inspect", "-f", f, image])).stdout.trim();

test("FROM scratch for linux/arm64 is labelled arm64; TARGETARCH and BUILDARCH", async () => {
  const r = await build(["--platform", "linux/arm64", "-t", "arm-base:1"], "FROM scratch\nCOPY --from=busybox-arm64:local / /\nARG TARGETARCH\nARG BUILDARCH\nLABEL target=$TARGETARCH build=$BUILDARCH\nCMD [\"sh\"]\n");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await field("arm-base:1", "{{.Architecture}}/{{.Os}}"), "arm64/linux");
  assert.equal(await field("arm-base:1", "{{index .Config.Labels \"target\"}} {{index .Config.Labels \"build\"}}"), "arm64 amd64");
});

test("RUN for linux/arm64 runs arm64 binaries through the emulator; an amd64 base is refused for it", { skip: ARM64_EMULATION_MISSING }, async () => {
  const r = await build(["--platform", "linux/arm64", "-t", "arm-run:1"], "FROM arm-base:1\nRUN uname -m > /arch && ls -l /bin/busybox > /ls\n");
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await tsbuildOk(["--root", root, "run", "--rm", "arm-run:1", "cat", "/arch"])).stdout, "aarch64\n");
  assert.equal(await field("arm-run:1", "{{.Architecture}}"), "arm64");
  const wrong = await build(["--platform", "linux/arm64"], "FROM busybox:local\nRUN true\n");
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /Dockerfile:1: base image busybox:local is linux\/amd64, not linux\/arm64/);
  const other = await build(["--platform", "linux/amd64"], "FROM arm-base:1\nRUN true\n");
  assert.equal(other.code, 1);
  assert.match(other.stderr, /base image arm-base:1 is linux\/arm64(\/v8)?, not linux\/amd64/);
});

test("a platform nothing here can run is a one-line error before any step", async () => {
  const r = await build(["--platform", "linux/mips64le"], "FROM scratch\nRUN true\n");
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim().split("\n").length, 1);
  assert.match(r.stderr, /platform linux\/mips64le cannot run on this linux\/amd64 machine: no binfmt_misc handler for mips64el; install Debian's qemu-user-static/);
  const copyOnly = await build(["--platform", "linux/mips64le", "-t", "mips:1"], "FROM scratch\nCOPY Dockerfile /\n");
  assert.equal(copyOnly.code, 0, "without RUN steps nothing needs to run");
  assert.equal(await field("mips:1", "{{.Architecture}}"), "mips64le");
});
