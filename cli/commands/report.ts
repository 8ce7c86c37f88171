// `tsbuild report build.json [-o FILE.html]`: the HTML page of a JSON report saved by `build --report`
// (the same page `build --report-html` writes), to FILE or standard output.
import { writeFile } from "node:fs/promises";
import { UserError } from "../../common/errors.js";
import type { BuildReport } from "../report.js";
import { renderHtml } from "../report/html.js";
import { readReport } from "../report/read.js";

/** Writes the report's page to `file`; a place it cannot be written is one line naming it. */
export async function writeReportPage(file: string, report: BuildReport): Promise<void> {
  try {
    await writeFile(file, renderHtml(report));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such folder" : code === "EISDIR" ? "is a folder" : code === "EACCES" || code === "EROFS" ? "not writable" : undefined;
    if (why !== undefined) throw new UserError(`${file}: cannot write the HTML report: ${why}`);
    throw e;
  }
}

export async function runReport(file: string, opts: { output?: string }): Promise<void> {
  const report = await readReport(file);
  if (opts.output === undefined || opts.output === "-") process.stdout.write(renderHtml(report));
  else await writeReportPage(opts.output, report);
}
