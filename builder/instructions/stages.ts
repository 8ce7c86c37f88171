// Instructions grouped into build stages (BuildKit's instructions.Parse): ARGs before the
// first FROM are global (meta) args; anything else before a FROM is an error.
import { RESERVED_STAGE_NAMES } from "./from.js";
import { DockerfileError } from "../../common/errors.js";
import type { ParsedDockerfile } from "../parser/types.js";
import { parseInstruction } from "./parse.js";
import type { ArgInstruction, FromInstruction, Instruction } from "./types.js";

export interface Stage {
  /** The lowercased `AS` name. */
  name?: string;
  index: number;
  from: FromInstruction;
  instructions: Instruction[];
}

export interface Stages {
  metaArgs: ArgInstruction[];
  stages: Stage[];
  /** What is legal but unwise (a duplicate or reserved stage name), with its place. */
  warnings: string[];
}

export function parseStages(parsed: ParsedDockerfile): Stages {
  const file = parsed.fileName;
  const metaArgs: ArgInstruction[] = [];
  const stages: Stage[] = [];
  const names = new Set<string>();
  const warnings: string[] = [];
  for (const node of parsed.nodes) {
    const instr = parseInstruction(node, file);
    if (instr.kind === "FROM") {
      if (instr.stageName !== undefined) {
        // BuildKit 0.13 builds both; its later releases warn (lint rules DuplicateStageName, ReservedStageName).
        // A name used twice names its first stage, as BuildKit looks stages up.
        if (names.has(instr.stageName)) warnings.push(`${file}:${node.startLine}: duplicate stage name ${JSON.stringify(instr.stageName)}, stage names should be unique`);
        if (RESERVED_STAGE_NAMES.has(instr.stageName)) warnings.push(`${file}:${node.startLine}: ${JSON.stringify(instr.stageName)} is a reserved word and should not be used as a stage name`);
        names.add(instr.stageName);
      }
      stages.push({
        ...(instr.stageName !== undefined ? { name: instr.stageName } : {}),
        index: stages.length,
        from: instr,
        instructions: [],
      });
      continue;
    }
    const current = stages[stages.length - 1];
    if (current) {
      current.instructions.push(instr);
    } else if (instr.kind === "ARG") {
      metaArgs.push(instr);
    } else {
      throw new DockerfileError({ file, line: node.startLine }, "no build stage in current context");
    }
  }
  if (stages.length === 0) {
    const last = parsed.nodes[parsed.nodes.length - 1];
    throw new DockerfileError({ file, line: last?.startLine ?? 1 }, "dockerfile contains no stages to build");
  }
  return { metaArgs, stages, warnings };
}
