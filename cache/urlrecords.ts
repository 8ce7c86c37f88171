// What each URL an ADD downloaded looked like (its content digest, ETag and Last-Modified), so that
// the next build asks the server "changed since?" and keys the step without downloading it again.
// One small JSON file per URL under cache/urls/, named by the URL's sha256; a torn or foreign file
// reads as unknown (the build then downloads).
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { digestHex, isDigest, sha256, type Digest } from "../common/digest.js";
import { errnoCode } from "../common/errors.js";
import { atomicWriteFile } from "../common/fsutil.js";

export interface UrlRecord {
  digest: Digest;
  etag?: string;
  lastModified?: string;
}

export class UrlRecords {
  private readonly dir: string;

  constructor(cacheDir: string) {
    this.dir = join(cacheDir, "urls");
  }

  private file(url: string): string {
    return join(this.dir, `${digestHex(sha256(url))}.json`);
  }

  async get(url: string): Promise<UrlRecord | undefined> {
    let text: string;
    try {
      text = await readFile(this.file(url), "utf8");
    } catch (e) {
      if (errnoCode(e) === "ENOENT") return undefined;
      throw e;
    }
    try {
      const r = JSON.parse(text) as { url?: unknown; digest?: unknown; etag?: unknown; lastModified?: unknown };
      if (r.url !== url || typeof r.digest !== "string" || !isDigest(r.digest)) return undefined;
      return {
        digest: r.digest,
        ...(typeof r.etag === "string" ? { etag: r.etag } : {}),
        ...(typeof r.lastModified === "string" ? { lastModified: r.lastModified } : {}),
      };
    } catch (e) {
      if (e instanceof SyntaxError) return undefined;
      throw e;
    }
  }

  async put(url: string, record: UrlRecord): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await atomicWriteFile(this.file(url), JSON.stringify({ url, ...record }));
  }
}
