// The file a module of tsbuild runs from, for paths beside it: the CommonJS bundle (dist/) has
// __filename; the ES module sources (tsx, tests) have import.meta.url. Under `node -e`, __filename is
// "[eval]", which is no path: then import.meta.url is the one to trust.
import { isAbsolute } from "node:path";
import { fileURLToPath } from "node:url";

export function moduleFile(filename: string | undefined, metaUrl: string | undefined): string {
  if (filename !== undefined && isAbsolute(filename)) return filename;
  if (metaUrl !== undefined && metaUrl !== "") return fileURLToPath(metaUrl);
  throw new Error("tsbuild cannot tell which file it runs from");
}
