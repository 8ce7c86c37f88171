// The Dockerfile reader. This is our own line reader, a transcription of BuildKit's
// frontend/dockerfile/parser (parser.go, line_parsers.go, split_command.go): dockerfile-ast
// tokenizes differently from BuildKit in the corners that matter here (escaped escapes
// before a newline, comments and empty lines inside continuations, JSON fallback, heredoc
// delimiters), so matching BuildKit exactly is simpler line by line, as it does.
import { DockerfileError, UserError } from "../../common/errors.js";
import { DirectiveReader } from "./directives.js";
import { heredocsFromLine } from "./heredoc.js";
import { LineParseError } from "./lineparsers.js";
import { heredocCarrier, nodeFromLine } from "./nodefromline.js";
import type { Heredoc, Node, ParsedDockerfile } from "./types.js";

const LEADING_SPACE = /^[\t\n\v\f\r \u0085\u00a0\p{White_Space}]+/u;

function trimNewline(s: string): string {
  return s.replace(/[\r\n]+$/, "");
}
function isComment(line: string): boolean {
  return line.replace(LEADING_SPACE, "").startsWith("#");
}

// Lines with their line endings, as BuildKit's scanLines yields them.
function scanLines(text: string): string[] {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

/** Parse Dockerfile text into BuildKit-shaped nodes. Errors are DockerfileErrors naming fileName and the line. */
export function parseDockerfile(text: string, fileName: string): ParsedDockerfile {
  const fail = (line: number, e: unknown): never => {
    if (e instanceof LineParseError || e instanceof UserError) {
      const detail = e instanceof DockerfileError ? e.detail : e.message;
      throw new DockerfileError({ file: fileName, line }, detail);
    }
    throw e;
  };
  const lines = scanLines(text);
  const directives = new DirectiveReader();
  const nodes: Node[] = [];
  const warnings: string[] = [];
  let i = 0;
  let currentLine = 0;

  // BuildKit's processLine: newline off, leading blanks off (first line of an instruction
  // only), directives noticed, comment lines emptied.
  const processLine = (raw: string, stripLeft: boolean): string => {
    let token = trimNewline(raw);
    if (stripLeft) token = token.replace(LEADING_SPACE, "");
    try {
      directives.read(token);
    } catch (e) {
      fail(currentLine + 1, e);
    }
    return isComment(token) ? "" : token;
  };
  const trimContinuation = (line: string): [string, boolean] => {
    const re = directives.continuation;
    if (re.test(line)) return [line.replace(re, (_m, keep: string | undefined) => keep ?? ""), false];
    return [line, true];
  };

  while (i < lines.length) {
    let raw = lines[i++]!;
    if (currentLine === 0 && raw.startsWith("\ufeff")) raw = raw.slice(1);
    const first = processLine(raw, true);
    currentLine++;
    const startLine = currentLine;
    let [line, endOfLine] = trimContinuation(first);
    if (endOfLine && line === "") continue;

    let hasEmptyContinuationLine = false;
    while (!endOfLine && i < lines.length) {
      const next = lines[i++]!;
      const processed = processLine(next, false);
      currentLine++;
      if (isComment(next)) continue;
      if (processed.replace(LEADING_SPACE, "") === "") {
        hasEmptyContinuationLine = true;
        continue;
      }
      const [part, eol] = trimContinuation(processed);
      line += part;
      endOfLine = eol;
    }
    if (hasEmptyContinuationLine) warnings.push(`${fileName}:${currentLine}: Empty continuation line found in: ${line}`);

    let node: Node;
    try {
      node = nodeFromLine(line, directives.escapeChar);
    } catch (e) {
      return fail(startLine, e);
    }

    if (heredocCarrier(node) && line.includes("<<")) {
      let openers;
      try {
        openers = heredocsFromLine(line);
      } catch (e) {
        return fail(startLine, e);
      }
      for (const opener of openers) {
        const doc: Heredoc = { ...opener, content: "" };
        let terminated = false;
        while (i < lines.length) {
          const bodyLine = lines[i++]!;
          currentLine++;
          let possibleTerminator = trimNewline(bodyLine);
          if (doc.chomp) possibleTerminator = possibleTerminator.replace(/^\t+/, "");
          if (possibleTerminator === doc.name) {
            terminated = true;
            break;
          }
          doc.content += bodyLine;
        }
        if (!terminated) throw new DockerfileError({ file: fileName, line: startLine }, "unterminated heredoc");
        node.heredocs.push(doc);
      }
    }
    node.startLine = startLine;
    node.endLine = currentLine;
    if (node.next) {
      node.next.startLine = startLine;
      node.next.endLine = currentLine;
    }
    nodes.push(node);
  }

  if (nodes.length === 0) {
    throw new DockerfileError({ file: fileName, line: Math.max(currentLine, 1) }, "file with no instructions");
  }
  if (directives.found["syntax"] !== undefined) {
    warnings.push(
      `${fileName}: the syntax directive (${directives.found["syntax"]}) is ignored: tsbuild uses its own Dockerfile frontend`,
    );
  }
  return { fileName, nodes, escapeChar: directives.escapeChar, directives: { ...directives.found }, warnings };
}
