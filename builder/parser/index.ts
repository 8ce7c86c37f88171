export { parseDockerfile } from "./parser.js";
export { dumpDockerfile, dumpNode } from "./dump.js";
export { chompHeredocContent, parseHeredocWord } from "./heredoc.js";
export type { Heredoc, Node, ParsedDockerfile } from "./types.js";
