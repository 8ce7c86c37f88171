// Test support for builder/copy: temporary roots and a listing of a tree in the oracle's terms
// (path, type, mode, uid:gid, size or link target), the same fields /work/shared/oracle/imgtree.py prints.
import { execFileSync } from "node:child_process";
import { chmod, chown, link, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { posix } from "node:path";
import { setAttribute } from "../../common/xattr.js";
import { copyIntoRootfs } from "./copy.js";
import { matchSources } from "./match.js";
import type { CopyRequest } from "./types.js";

export const place = { file: "Dockerfile", line: 3 };

/** Runs fn with fresh temporary folders (one per name), removed afterwards on every path. */
export async function withRoots<T>(names: string[], fn: (roots: Record<string, string>) => Promise<T>): Promise<T> {
  const base = await mkdtemp(posix.join(tmpdir(), "tsbuild-copy-test-"));
  try {
    const roots: Record<string, string> = {};
    for (const n of names) {
      roots[n] = posix.join(base, n);
      await mkdir(roots[n] as string);
    }
    return await fn(roots);
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

/** One line per entry under root (sorted, as `/path type mode uid:gid [size | -> link]`). */
export async function listTree(root: string, under = "/"): Promise<string[]> {
  const out: string[] = [];
  const walk = async (container: string): Promise<void> => {
    const host = container === "/" ? root : posix.join(root, container);
    for (const name of (await readdir(host)).sort()) {
      const path = posix.join(container, name);
      const st = await lstat(posix.join(root, path));
      const owner = `${st.uid}:${st.gid}`;
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out.push(`${path} dir ${mode} ${owner}`);
        await walk(path);
      } else if (st.isSymbolicLink()) {
        out.push(`${path} symlink 777 ${owner} -> ${await readlink(posix.join(root, path))}`);
      } else if (st.isFile()) {
        out.push(`${path} file ${mode} ${owner} ${st.size}`);
      } else {
        out.push(`${path} other ${mode} ${owner}`);
      }
    }
  };
  await walk(under);
  return out.sort();
}

const CAP_NET_RAW = Buffer.from([1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

/** The build context of the probe, as it was on disk (owners and modes matter). */
export async function makeContext(ctx: string): Promise<void> {
  const w = (p: string, s: string) => writeFile(posix.join(ctx, p), s);
  await mkdir(posix.join(ctx, "dir/sub"), { recursive: true });
  await w("dir/a.txt", "a\n");
  await w("dir/sub/s.txt", "s\n");
  await w("dir/sub/s2.txt", "s2\n"); // ignored
  await chmod(posix.join(ctx, "dir/sub"), 0o700);
  await chmod(posix.join(ctx, "dir"), 0o750);
  await symlink("a.txt", posix.join(ctx, "dir/link"));
  await link(posix.join(ctx, "dir/a.txt"), posix.join(ctx, "dir/hard"));
  await w("file.txt", "f\n");
  await chown(posix.join(ctx, "file.txt"), 1000, 1001);
  await chmod(posix.join(ctx, "file.txt"), 0o4755);
  await symlink("file.txt", posix.join(ctx, "flink"));
  await w("one.txt", "x\n");
  await w("two.txt", "y\n");
  await mkdir(posix.join(ctx, "wdir.txt"));
  await w("wdir.txt/inner", "w\n");
  await w("capfile", "#!/bin/sh\n");
  await chmod(posix.join(ctx, "capfile"), 0o755);
  await setAttribute(posix.join(ctx, "capfile"), "security.capability", CAP_NET_RAW);
  await setAttribute(posix.join(ctx, "capfile"), "user.foo", "bar");
  await w("ignored.txt", "ign\n");
  await mkdir(posix.join(ctx, "arch/y"), { recursive: true });
  await w("arch/x", "A\n");
  await w("arch/y/z", "B\n");
  await chmod(posix.join(ctx, "arch/x"), 0o600);
  const tar = (args: string[]) => execFileSync("tar", ["-C", posix.join(ctx, "arch"), ...args, "."]);
  tar(["--owner=1234", "--group=5678", "-cf", posix.join(ctx, "plain.tar")]);
  tar(["--owner=1234", "--group=5678", "-czf", posix.join(ctx, "gz.tgz")]);
  await writeFile(posix.join(ctx, "renamed.bin"), await readFile(posix.join(ctx, "gz.tgz")));
  tar(["--owner=0", "--group=0", "-cjf", posix.join(ctx, "b.tbz")]);
  tar(["--owner=0", "--group=0", "-cJf", posix.join(ctx, "x.txz")]);
  tar(["--owner=0", "--group=0", "--zstd", "-cf", posix.join(ctx, "z.tzst")]);
  await w("fake.tar.gz", "notanarchive\n");
}

export const contextFilter = (rel: string): boolean => rel !== "ignored.txt" && rel !== "dir/sub/s2.txt";

/** A COPY/ADD as the executor would run it: match the sources, then copy. */
export async function step(
  roots: { ctx: string; rootfs: string },
  sources: string[],
  dest: string,
  opts: Partial<CopyRequest> & { from?: string } = {},
): Promise<void> {
  const sourceRoot = opts.from ?? roots.ctx;
  const filter = opts.from ? undefined : contextFilter;
  const add = opts.add ?? false;
  const matched = await matchSources(sourceRoot, sources, filter, place, add ? "ADD" : "COPY");
  await copyIntoRootfs({
    sourceRoot,
    filter,
    fromContext: opts.from === undefined,
    sources: matched,
    destRoot: roots.rootfs,
    dest,
    workdir: opts.workdir ?? "/",
    place,
    add,
    ...(opts.chown ? { chown: opts.chown } : {}),
    ...(opts.chmod !== undefined ? { chmod: opts.chmod } : {}),
    ...(opts.inline ? { inline: opts.inline } : {}),
  });
}

