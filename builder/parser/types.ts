/** A here-document attached to a RUN, COPY or ADD line. */
export interface Heredoc {
  /** The delimiter word with quotes removed (`EOF`). */
  name: string;
  /** The body as written (lines with their newlines; tabs not yet removed for `<<-`). */
  content: string;
  /** False when any part of the delimiter was quoted: the body is then taken literally. */
  expand: boolean;
  /** `<<-`: leading tabs are removed from the body's lines (and the delimiter line). */
  chomp: boolean;
}

/** One instruction as BuildKit's parser reads it, before any typing or expansion. */
export interface Node {
  /** The instruction keyword, lowercased (`run`). */
  keyword: string;
  /** Builder flags as written (`--from=build`), quotes removed. */
  flags: string[];
  /** BuildKit's Next-chain values: the arguments as its line parser for this keyword splits them. */
  args: string[];
  /** The arguments were a JSON array (exec form). */
  json: boolean;
  heredocs: Heredoc[];
  /** The instruction as written, continuation lines joined, comments and empty lines dropped. */
  original: string;
  startLine: number;
  endLine: number;
  /** ONBUILD's trigger instruction. */
  next?: Node;
}

export interface ParsedDockerfile {
  /** The name given to parseDockerfile, used in every error's place. */
  fileName: string;
  nodes: Node[];
  /** The escape character in effect (`\` unless `# escape=` said otherwise). */
  escapeChar: string;
  /** Parser directives found at the top (`escape`, `syntax`, `check`), lowercased names. */
  directives: Record<string, string>;
  warnings: string[];
}
