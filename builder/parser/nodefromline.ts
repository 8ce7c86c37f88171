// One joined instruction line -> Node (BuildKit's newNodeFromLine and its dispatch table).
import {
  type LineArgs,
  parseHealthConfig,
  parseMaybeJSON,
  parseMaybeJSONToList,
  parseNameOrNameVal,
  parseNameVal,
  parseString,
  parseStringsWhitespaceDelimited,
} from "./lineparsers.js";
import { splitCommand } from "./splitcommand.js";
import type { Node } from "./types.js";

type LineParser = (rest: string, escape: string) => LineArgs;

const DISPATCH: Record<string, LineParser> = {
  add: parseMaybeJSONToList,
  arg: parseNameOrNameVal,
  cmd: parseMaybeJSON,
  copy: parseMaybeJSONToList,
  entrypoint: parseMaybeJSON,
  env: (rest, escape) => parseNameVal(rest, "ENV", escape),
  expose: parseStringsWhitespaceDelimited,
  from: parseStringsWhitespaceDelimited,
  healthcheck: parseHealthConfig,
  label: (rest, escape) => parseNameVal(rest, "LABEL", escape),
  maintainer: parseString,
  run: parseMaybeJSON,
  shell: parseMaybeJSON,
  stopsignal: parseString,
  user: parseString,
  volume: parseMaybeJSONToList,
  workdir: parseString,
};

/** Keywords whose lines may open heredocs. */
export const HEREDOC_KEYWORDS = new Set(["run", "copy", "add"]);

/**
 * A node without line numbers or heredocs. Unknown keywords are kept with no arguments
 * (BuildKit's parser ignores them; the instruction reader rejects them with their line).
 */
export function nodeFromLine(line: string, escape: string): Node {
  const { keyword, flags, rest } = splitCommand(line);
  const lower = keyword.toLowerCase();
  const node: Node = { keyword: lower, flags, args: [], json: false, heredocs: [], original: line, startLine: 0, endLine: 0 };
  if (lower === "onbuild") {
    if (rest !== "") node.next = nodeFromLine(rest, escape);
    return node;
  }
  const parse = DISPATCH[lower];
  if (parse) {
    const { args, json } = parse(rest, escape);
    node.args = args;
    node.json = json;
  }
  return node;
}

/** The node whose arguments may hold heredoc openers: the node itself, or ONBUILD's trigger. */
export function heredocCarrier(node: Node): Node | undefined {
  const target = node.keyword === "onbuild" && node.next ? node.next : node;
  return HEREDOC_KEYWORDS.has(target.keyword) && !target.json ? target : undefined;
}
