// Device nodes, fifos and whiteouts need mknod(2), which Node does not offer. They are queued and
// created in batches by one GNU tar process fed a tar of just those nodes: one spawn per batch
// instead of one per node (a layer can delete thousands of files), and tar sets owner, mode,
// xattrs and mtime as it goes. Parents are real directories already checked by the caller.
import { loadExeca } from "../exec.js";
import { RuntimeFailure } from "../../common/errors.js";
import { TarWriter } from "../../image/tar/index.js";

export interface PendingNode {
  /** Path relative to the target root (no "..", parents checked to be real directories). */
  relPath: string;
  kind: "char" | "block" | "fifo";
  major: number;
  minor: number;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  xattrs?: Map<string, Buffer>;
}

const BATCH = 2000;

export class NodeQueue {
  private pending: PendingNode[] = [];
  private readonly paths = new Set<string>();

  constructor(private readonly root: string) {}

  add(node: PendingNode): Promise<void> {
    this.pending.push(node);
    this.paths.add(node.relPath);
    return this.pending.length >= BATCH ? this.flush() : Promise.resolve();
  }

  has(relPath: string): boolean {
    return this.paths.has(relPath);
  }

  async flush(): Promise<void> {
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    this.paths.clear();
    const args = ["-x", "-f", "-", "-C", this.root, "--numeric-owner", "--same-owner", "--same-permissions", "--xattrs", "--xattrs-include=*"];
    const child = (await loadExeca())("tar", args, { reject: false, stdin: "pipe", stdout: "ignore" });
    const writer = new TarWriter(child.stdin);
    try {
      for (const n of batch) {
        await writer.add({ path: n.relPath, type: n.kind, mode: n.mode, uid: n.uid, gid: n.gid, size: 0, mtime: n.mtime, devmajor: n.major, devminor: n.minor, xattrs: n.xattrs });
      }
      await writer.finish();
    } finally {
      const result = await child;
      if (result.exitCode !== 0) {
        throw new RuntimeFailure(`creating ${batch.length} device nodes with tar failed (exit ${String(result.exitCode)}): ${String(result.stderr).trim()}`);
      }
    }
  }
}
