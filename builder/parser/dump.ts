// BuildKit's parse-tree dump format (Node.Dump), used by the conformance tests and handy
// for debugging: `(copy ["--from=a"] "src" "/dst")`.
import { goQuote } from "../shell/chars.js";
import type { Node, ParsedDockerfile } from "./types.js";

export function dumpNode(node: Node): string {
  let s = node.keyword;
  if (node.flags.length > 0) s += ` [${node.flags.map(goQuote).join(" ")}]`;
  if (node.next) s += ` (${dumpNode(node.next)})`;
  for (const arg of node.args) s += ` ${goQuote(arg)}`;
  return s.trim();
}

export function dumpDockerfile(parsed: ParsedDockerfile): string {
  return parsed.nodes.map((n) => `(${dumpNode(n)})`).join("\n");
}
