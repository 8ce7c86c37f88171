// A small memory kept under the store's cache folder (`cache/registry-blobs.json`):
// - which gzip blob an uncompressed layer became when it was last pushed (diffID → digest, size), so the
//   next push can ask the registry for it (HEAD) without compressing the layer again;
// - which repositories (`host/path`) are known to hold a blob, for cross-repository mounts.
// Losing the file costs a recompression, nothing else: every entry is checked before it is trusted.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Digest } from "../../common/digest.js";
import { errnoCode } from "../../common/errors.js";
import { atomicWriteFile } from "../../common/fsutil.js";
import { withFileLock } from "../../common/lock.js";
import type { StorePaths } from "../../common/storepaths.js";

export interface CompressedBlob {
  digest: Digest;
  size: number;
  mediaType: string;
}

interface MemoFile {
  compressed: Record<string, CompressedBlob>;
  repos: Record<string, string[]>;
}

const MAX_REPOS = 8;

export class PushMemo {
  private constructor(private readonly paths: StorePaths, private data: MemoFile) {}

  static async load(paths: StorePaths): Promise<PushMemo> {
    return new PushMemo(paths, await readMemo(memoPath(paths)));
  }

  compressedOf(diffId: Digest): CompressedBlob | undefined {
    return this.data.compressed[diffId];
  }

  /** Repositories (`host/path`) known to hold the blob. */
  reposOf(digest: Digest): string[] {
    return this.data.repos[digest] ?? [];
  }

  /** Records what was learned (merged into the file under a lock: other processes push too). */
  async save(update: { compressed?: Array<[Digest, CompressedBlob]>; repos?: Array<[Digest, string]> }): Promise<void> {
    if (this.knows(update)) return; // a push of what was pushed before: the file would be written as it is
    const path = memoPath(this.paths);
    await withFileLock(join(this.paths.locks, "registry-blobs.lock"), async () => {
      const cur = await readMemo(path);
      for (const [diffId, blob] of update.compressed ?? []) cur.compressed[diffId] = blob;
      for (const [digest, repo] of update.repos ?? []) {
        const list = (cur.repos[digest] ?? []).filter((r) => r !== repo);
        cur.repos[digest] = [repo, ...list].slice(0, MAX_REPOS);
      }
      await atomicWriteFile(path, JSON.stringify(cur), 0o644, this.paths.tmp); // via tmp/: a killed push leaves nothing beside it
      this.data = cur;
    });
  }

  /** Whether saving `update` would leave the memo as it was read (same blobs, each repository already first). */
  private knows(update: { compressed?: Array<[Digest, CompressedBlob]>; repos?: Array<[Digest, string]> }): boolean {
    const same = (a: CompressedBlob | undefined, b: CompressedBlob): boolean =>
      a !== undefined && a.digest === b.digest && a.size === b.size && a.mediaType === b.mediaType;
    return (update.compressed ?? []).every(([diffId, blob]) => same(this.data.compressed[diffId], blob)) &&
      (update.repos ?? []).every(([digest, repo]) => this.data.repos[digest]?.[0] === repo);
  }
}

function memoPath(paths: StorePaths): string {
  return join(paths.cache, "registry-blobs.json");
}

async function readMemo(path: string): Promise<MemoFile> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return { compressed: {}, repos: {} };
    throw e;
  }
  try {
    const v = JSON.parse(text) as Partial<MemoFile>;
    return { compressed: v.compressed ?? {}, repos: v.repos ?? {} };
  } catch (e) {
    if (e instanceof SyntaxError) return { compressed: {}, repos: {} }; // a damaged memo is only a lost shortcut
    throw e;
  }
}
