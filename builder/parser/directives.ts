// Parser directives (`# escape=\``, `# syntax=...`, `# check=...`): only at the very top of
// the file, each at most once; the first line that is not one ends the search (BuildKit's
// DirectiveParser).
import { LineParseError } from "./lineparsers.js";

const VALID = new Set(["syntax", "escape", "check"]);
// Go's \s is [\t\n\f\r ]
const DIRECTIVE = /^([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*$/;
const LEADING_SPACE = /^[\t\n\v\f\r \u0085\u00a0]+/;

export class DirectiveReader {
  private done = false;
  readonly found: Record<string, string> = {};
  escapeChar = "\\";
  continuation = continuationRegex("\\");

  /** Look at one line (newline removed); true if it was a directive. */
  read(line: string): boolean {
    if (this.done) return false;
    if (!line.startsWith("#")) {
      this.done = true;
      return false;
    }
    const m = DIRECTIVE.exec(line.slice(1).replace(LEADING_SPACE, ""));
    const key = m?.[1]?.toLowerCase();
    if (!m || key === undefined || !VALID.has(key)) {
      this.done = true;
      return false;
    }
    if (key in this.found) throw new LineParseError(`only one ${key} parser directive can be used`);
    const value = m[2]!;
    this.found[key] = value;
    if (key === "escape") this.setEscape(value);
    return true;
  }

  private setEscape(value: string): void {
    if (value !== "`" && value !== "\\") {
      throw new LineParseError(`invalid escape token '${value}' does not match \` or \\`);
    }
    this.escapeChar = value;
    this.continuation = continuationRegex(value);
  }
}

// The escape character at the end of a line (trailing blanks allowed) continues the line,
// unless it is itself escaped. The second branch is a line that is only the escape character.
function continuationRegex(escape: string): RegExp {
  const e = "\\" + escape;
  return new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`);
}
