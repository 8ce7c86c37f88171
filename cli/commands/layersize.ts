// The size Docker shows for a layer (history, system df): the bytes of its files, not of its tar.
// Docker sums each regular file's size and each symlink's target length; hardlinks count once.
import type { Digest } from "../../common/digest.js";
import type { ContentStore } from "../../image/store.js";
import { readTar } from "../../image/tar/index.js";

export class LayerSizes {
  private readonly known = new Map<Digest, Promise<number>>();

  constructor(private readonly store: ContentStore) {}

  /** Content size of an uncompressed layer blob; 0 for a blob the store lacks. */
  of(digest: Digest): Promise<number> {
    let p = this.known.get(digest);
    if (!p) {
      p = this.measure(digest);
      this.known.set(digest, p);
    }
    return p;
  }

  private async measure(digest: Digest): Promise<number> {
    if (!(await this.store.has(digest))) return 0;
    let total = 0;
    for await (const { entry } of readTar(this.store.openBlob(digest))) {
      if (entry.type === "file") total += entry.size;
      else if (entry.type === "symlink") total += Buffer.byteLength(entry.linkname ?? "");
    }
    return total;
  }
}
