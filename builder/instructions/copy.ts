// COPY and ADD: sources (paths, URLs or inline heredocs) and a destination.
import { chompHeredocContent, parseHeredocWord } from "../parser/heredoc.js";
import { optional } from "./flags.js";
import { type ParseRequest, InstructionError, noDestinationArgument } from "./request.js";
import type { AddInstruction, CopyInstruction, SourceContent } from "./types.js";

interface SourcesAndDest {
  sources: string[];
  contents: SourceContent[];
  dest: string;
}

function sourcesAndDest(req: ParseRequest, cmd: string): SourcesAndDest {
  const dest = req.args[req.args.length - 1]!;
  if (parseHeredocWord(dest)) throw new InstructionError(`${cmd} cannot accept a heredoc as a destination`);
  const bodies = new Map(req.node.heredocs.map((h) => [h.name, h.content]));
  const sources: string[] = [];
  const contents: SourceContent[] = [];
  for (const src of req.args.slice(0, -1)) {
    const doc = parseHeredocWord(src);
    if (!doc) {
      sources.push(src);
      continue;
    }
    const body = bodies.get(doc.name) ?? "";
    contents.push({ path: doc.name, data: doc.chomp ? chompHeredocContent(body) : body, expand: doc.expand });
  }
  return { sources, contents, dest };
}

/** COPY [--from=] [--chown=] [--chmod=] [--link] [--parents] [--exclude=]... src... dest */
export function parseCopy(req: ParseRequest): CopyInstruction {
  if (req.args.length < 2) throw noDestinationArgument("COPY");
  const exclude = req.flags.addStrings("exclude");
  const parents = req.flags.addBool("parents");
  const chown = req.flags.addString("chown");
  const from = req.flags.addString("from");
  const chmod = req.flags.addString("chmod");
  const link = req.flags.addBool("link");
  req.flags.parse();
  return {
    kind: "COPY",
    place: req.place,
    original: req.original,
    ...sourcesAndDest(req, "COPY"),
    ...(optional(from) !== undefined ? { from: from.value } : {}),
    ...(optional(chown) !== undefined ? { chown: chown.value } : {}),
    ...(optional(chmod) !== undefined ? { chmod: chmod.value } : {}),
    link: link.value === "true",
    parents: parents.value === "true",
    excludes: exclude.values,
  };
}

/** ADD [--chown=] [--chmod=] [--link] [--checksum=] [--keep-git-dir] [--exclude=]... src... dest */
export function parseAdd(req: ParseRequest): AddInstruction {
  if (req.args.length < 2) throw noDestinationArgument("ADD");
  const exclude = req.flags.addStrings("exclude");
  const chown = req.flags.addString("chown");
  const chmod = req.flags.addString("chmod");
  const link = req.flags.addBool("link");
  const keepGitDir = req.flags.addBool("keep-git-dir");
  const checksum = req.flags.addString("checksum");
  req.flags.parse();
  return {
    kind: "ADD",
    place: req.place,
    original: req.original,
    ...sourcesAndDest(req, "ADD"),
    ...(optional(chown) !== undefined ? { chown: chown.value } : {}),
    ...(optional(chmod) !== undefined ? { chmod: chmod.value } : {}),
    link: link.value === "true",
    ...(optional(checksum) !== undefined ? { checksum: checksum.value } : {}),
    keepGitDir: keepGitDir.value === "true",
    excludes: exclude.values,
  };
}
