// Which subcommand the user meant. `tsbuild -t app .` and `tsbuild ./ctx` mean `tsbuild build …`, as
// the README promises; a bare word that is neither a subcommand nor a path is a mistyped command
// (`tsbuild imgaes`), answered with the nearest command instead of "context path … not found".
import { existsSync } from "node:fs";
import { UserError } from "../common/errors.js";

export const SUBCOMMANDS: readonly string[] = [
  "build", "load", "save", "import", "images", "inspect", "history", "tag", "rmi", "image", "run", "ps", "rm",
  "commit", "system", "container", "cache", "pull", "push", "login", "logout", "manifest", "completion", "help",
  "diff", "export", "layers", "plan", "report", "logs", "start", "stop", "kill", "exec", "container-supervise",
];

const GLOBAL_WITH_VALUE = ["--root", "--insecure-registry"];

/** A mistyped subcommand: Docker exits 1 for it (`docker: unknown command`), as here. */
export class UnknownCommandError extends UserError {
  constructor(word: string) {
    const near = nearestCommand(word);
    super(`unknown command "${word.slice(0, 60)}"${near ? `: did you mean "${near}"?` : ""} (tsbuild --help lists the commands)`);
  }
}

/** argv with "build" inserted after the global options when no subcommand is named. */
export function withDefaultCommand(argv: string[], pathExists: (p: string) => boolean = existsSync): string[] {
  let i = 0;
  while (i < argv.length) {
    const a = argv[i] as string;
    if (GLOBAL_WITH_VALUE.includes(a)) i += 2;
    else if (GLOBAL_WITH_VALUE.some((g) => a.startsWith(`${g}=`))) i += 1;
    else break;
  }
  const first = argv[i];
  if (first === undefined || SUBCOMMANDS.includes(first) || ["-h", "--help", "-V", "--version"].includes(first)) return argv;
  if (!first.startsWith("-") && !looksLikeContext(first, pathExists)) throw new UnknownCommandError(first);
  return [...argv.slice(0, i), "build", ...argv.slice(i)];
}

/** A build context: a path that exists or is written as one, `-` (standard input) or a URL. */
function looksLikeContext(word: string, pathExists: (p: string) => boolean): boolean {
  return word === "-" || word.includes("/") || word.startsWith(".") || word.includes("://") || word.startsWith("git@") || pathExists(word);
}

/** The subcommand within two edits of word (or that word starts), if there is one. */
export function nearestCommand(word: string): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of SUBCOMMANDS) {
    const d = c.startsWith(word) && word.length >= 2 ? 0.5 : editDistance(word.toLowerCase(), c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

/** Damerau-Levenshtein (optimal string alignment): a swap of two letters is one edit, as typos are. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const up = d[i - 1] as number[];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((up[j] as number) + 1, (row[j - 1] as number) + 1, (up[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j] as number, ((d[i - 2] as number[])[j - 2] as number) + 1);
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}
