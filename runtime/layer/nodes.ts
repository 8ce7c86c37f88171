// Device nodes, fifos and whiteouts need mknod(2), which Node does not offer: they are queued and
// created in batches by one shell running coreutils' mknod, then given their metadata.
import { lchown, lutimes, chmod } from "node:fs/promises";
import { execa } from "execa";
import { RuntimeFailure } from "../../common/errors.js";
import { writeXattrs } from "./xattrs.js";

export interface PendingNode {
  hostPath: string;
  kind: "char" | "block" | "fifo";
  major: number;
  minor: number;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  xattrs?: Map<string, Buffer>;
}

const BATCH = 500;
const MKNOD_LOOP = 'while [ "$#" -gt 0 ]; do if [ "$2" = p ]; then mknod -m "$3" -- "$1" p || exit 1; else mknod -m "$3" -- "$1" "$2" "$4" "$5" || exit 1; fi; shift 5; done';

export class NodeQueue {
  private pending: PendingNode[] = [];
  private readonly paths = new Set<string>();

  add(node: PendingNode): Promise<void> {
    this.pending.push(node);
    this.paths.add(node.hostPath);
    return this.pending.length >= BATCH ? this.flush() : Promise.resolve();
  }

  has(hostPath: string): boolean {
    return this.paths.has(hostPath);
  }

  async flush(): Promise<void> {
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    this.paths.clear();
    const args: string[] = [];
    for (const n of batch) {
      const type = n.kind === "char" ? "c" : n.kind === "block" ? "b" : "p";
      // The mode is set again with chmod after chown; here it only must not be wider than wanted.
      args.push(n.hostPath, type, (n.mode & 0o777).toString(8), String(n.major), String(n.minor));
    }
    const result = await execa("/bin/sh", ["-c", MKNOD_LOOP, "mknod-batch", ...args], { reject: false, stdin: "ignore" });
    if (result.exitCode !== 0) {
      throw new RuntimeFailure(`mknod failed (exit ${String(result.exitCode)}): ${String(result.stderr).trim()}`);
    }
    for (const n of batch) {
      await lchown(n.hostPath, n.uid, n.gid);
      await chmod(n.hostPath, n.mode);
      await writeXattrs(n.hostPath, n.xattrs);
      await lutimes(n.hostPath, n.mtime, n.mtime);
    }
  }
}
