// Node -> typed Instruction (BuildKit's instructions.ParseInstruction).
import { DockerfileError } from "../../common/errors.js";
import type { Node } from "../parser/types.js";
import { parseCmd, parseEntrypoint, parseRun, parseShell } from "./command.js";
import { parseAdd, parseCopy } from "./copy.js";
import { FlagError } from "./flags.js";
import { parseFrom } from "./from.js";
import { parseHealthcheck } from "./healthcheck.js";
import { parseArg, parseEnv, parseLabel } from "./keyvalue.js";
import { parseOnbuild } from "./onbuild.js";
import { type ParseRequest, InstructionError, newRequest } from "./request.js";
import { parseExpose, parseMaintainer, parseStopSignal, parseUser, parseVolume, parseWorkdir } from "./simple.js";
import type { Instruction } from "./types.js";

const READERS: Record<string, (req: ParseRequest) => Instruction> = {
  from: parseFrom,
  run: parseRun,
  cmd: parseCmd,
  entrypoint: parseEntrypoint,
  shell: parseShell,
  env: parseEnv,
  label: parseLabel,
  arg: parseArg,
  copy: parseCopy,
  add: parseAdd,
  workdir: parseWorkdir,
  user: parseUser,
  maintainer: parseMaintainer,
  stopsignal: parseStopSignal,
  expose: parseExpose,
  volume: parseVolume,
  healthcheck: parseHealthcheck,
  onbuild: parseOnbuild,
};

/** Type one parsed node. Errors are DockerfileErrors at the node's first line. */
export function parseInstruction(node: Node, file: string): Instruction {
  const reader = READERS[node.keyword];
  if (!reader) {
    const written = node.original.trim().split(/[\t\v\f\r ]+/)[0] ?? node.keyword;
    throw new DockerfileError({ file, line: node.startLine }, `unknown instruction: ${written.toUpperCase()}`);
  }
  try {
    return reader(newRequest(node, file));
  } catch (e) {
    if (e instanceof InstructionError || e instanceof FlagError) {
      throw new DockerfileError({ file, line: node.startLine }, e.message);
    }
    throw e;
  }
}
