// `tsbuild report build.json [-o FILE.html]`: the HTML page of a JSON report saved by `build --report`
// (the same page `build --report-html` writes), to FILE or standard output.
import { writeFile } from "node:fs/promises";
import { renderHtml } from "../report/html.js";
import { readReport } from "../report/read.js";

export async function runReport(file: string, opts: { output?: string }): Promise<void> {
  const html = renderHtml(await readReport(file));
  if (opts.output === undefined || opts.output === "-") process.stdout.write(html);
  else await writeFile(opts.output, html);
}
