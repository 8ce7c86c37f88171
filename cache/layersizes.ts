// The size Docker shows for a layer (images, history, inspect, system df): the bytes of its files, not
// of its tar. Docker sums each regular file's size and each symlink's target length; hardlinks count
// once. Measuring reads the whole layer, so each result is remembered in `<root>/layersizes/<hex>`
// (a blob never changes, so neither does its size; a missing or damaged memo is measured again).
// Garbage collection (cache/gc/) drops the memo of a removed blob: `recorded` and `forget`.
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { digestHex, type Digest } from "../common/digest.js";
import { ArchiveError, errnoCode } from "../common/errors.js";
import { atomicWriteFile, listDirIfExists } from "../common/fsutil.js";
import type { ContentStore, ImageRecord } from "../image/store.js";
import { readTar } from "../image/tar/index.js";
import { openBlobAsTar } from "../runtime/layerblob.js";

export class LayerSizes {
  private readonly known = new Map<Digest, Promise<number>>();
  private readonly memoDir: string;

  constructor(private readonly store: ContentStore) {
    this.memoDir = join(store.paths.root, "layersizes");
  }

  /** Content size of an uncompressed layer blob; 0 for a blob the store lacks. */
  of(digest: Digest): Promise<number> {
    let p = this.known.get(digest);
    if (!p) {
      p = this.remembered(digest);
      this.known.set(digest, p);
    }
    return p;
  }

  /** An image's size as `docker images` shows it: the content of all its layers. */
  async ofImage(rec: ImageRecord): Promise<number> {
    let total = 0;
    for (const l of rec.manifest.layers) total += await this.of(l.digest);
    return total;
  }

  /** The blobs a size is remembered for (the garbage collector drops those of removed blobs). */
  async recorded(): Promise<Digest[]> {
    return (await listDirIfExists(this.memoDir)).filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n): Digest => `sha256:${n}`);
  }

  /** Drops the remembered size of a removed blob. */
  async forget(digest: Digest): Promise<void> {
    this.known.delete(digest);
    await rm(join(this.memoDir, digestHex(digest)), { force: true });
  }

  private async remembered(digest: Digest): Promise<number> {
    const memo = join(this.memoDir, digestHex(digest));
    try {
      const n = Number((await readFile(memo, "utf8")).trim());
      if (Number.isSafeInteger(n) && n >= 0) return n;
    } catch (e) {
      if (errnoCode(e) !== "ENOENT") throw e;
    }
    if (!(await this.store.has(digest))) return 0;
    const size = await this.measure(digest);
    await atomicWriteFile(memo, `${size}\n`, 0o644, this.store.paths.tmp);
    return size;
  }

  private async measure(digest: Digest): Promise<number> {
    let total = 0;
    try {
      for await (const { entry } of readTar(await openBlobAsTar(this.store, digest))) {
        if (entry.type === "file") total += entry.size;
        else if (entry.type === "symlink") total += Buffer.byteLength(entry.linkname ?? "");
      }
    } catch (e) {
      // A blob that is no layer tar (a damaged one, or another tool's): its bytes are the best answer.
      if (e instanceof ArchiveError) return this.store.blobSize(digest);
      throw e;
    }
    return total;
  }
}
