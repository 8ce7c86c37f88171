// Test support for builder/copy: temporary roots and a listing of a tree in the oracle's terms
// (path, type, mode, uid:gid, size or link target), the same fields /work/shared/oracle/imgtree.py prints.
import { mkdir, mkdtemp, readdir, lstat, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { posix } from "node:path";

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
