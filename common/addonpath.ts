// Where the native addon (native/, built by `make build`) lies: native/build/ beside the folder holding
// the code that runs (common/ from the sources, dist/ from a bundle). Kept apart from common/native.ts,
// which loads it, so the up-to-date check's small bundle (cli/uptodate/) can name it without the rest.
import { dirname, join } from "node:path";

/** The addon's path for code running from `file` (a module or a bundle). */
export function addonPathBeside(file: string): string {
  return join(dirname(file), "..", "native", "build", "tsbuild_native.node");
}
