// A real base image for the benchmark: a minimal Debian root filesystem made with debootstrap (from
// Debian's own packages, its default mirror), imported by tsbuild and saved as a docker-archive that every
// tool then loads. Made once and kept in .tmp/bench/ (not in the repository): debootstrap takes minutes.
import { mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { runCommand } from "./measure.js";
import { exists, REPO, run, ts } from "./tools.js";

const CACHE = join(REPO, ".tmp", "bench");
const ARCHIVE = join(CACHE, "debian-bookworm-docker.tar");

export function debianArchive(): string {
  return ARCHIVE;
}

/** The docker-archive of `bench-debian:bookworm`, made on first use. */
export async function ensureDebianArchive(): Promise<string> {
  if (await exists(ARCHIVE)) return ARCHIVE;
  await mkdir(CACHE, { recursive: true });
  const rootfs = join(CACHE, "rootfs-debian");
  if (!(await exists(join(rootfs, "etc", "debian_version")))) {
    process.stderr.write("(debootstrap of Debian bookworm, minbase: a few minutes, once) ");
    await rm(rootfs, { recursive: true, force: true });
    await runCommand("debootstrap", ["--variant=minbase", "bookworm", rootfs]).catch((e: unknown) => {
      throw new Error(`debootstrap failed (apt-get install debootstrap, and Debian's mirror must be reachable): ${String(e)}`);
    });
  }
  const tar = join(CACHE, "debian-rootfs.tar");
  await runCommand("tar", ["--numeric-owner", "--exclude=./dev/*", "--exclude=./proc/*", "--exclude=./sys/*", "-C", rootfs, "-cf", tar, "."]);
  const store = join(CACHE, "debian-store");
  await rm(store, { recursive: true, force: true });
  try {
    await run(ts("--root", store, "import", tar, "bench-debian:bookworm", "--change", 'CMD ["bash"]'));
    await run(ts("--root", store, "save", "bench-debian:bookworm", "-o", `${ARCHIVE}.part`));
    await rename(`${ARCHIVE}.part`, ARCHIVE);
  } finally {
    await rm(store, { recursive: true, force: true });
    await rm(tar, { force: true });
  }
  return ARCHIVE;
}
