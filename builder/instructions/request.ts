// What every instruction reader gets, and the error texts they share (BuildKit's wording).
import type { Node } from "../parser/types.js";
import { BuilderFlags } from "./flags.js";
import type { Place } from "./types.js";

/** A problem with one instruction; parseInstruction adds the Dockerfile place. */
export class InstructionError extends Error {}

export interface ParseRequest {
  node: Node;
  args: string[];
  flags: BuilderFlags;
  place: Place;
  original: string;
}

export function newRequest(node: Node, file: string): ParseRequest {
  return {
    node,
    args: node.args,
    flags: new BuilderFlags(node.flags),
    place: { file, line: node.startLine, endLine: node.endLine },
    original: node.original,
  };
}

export const atLeastOneArgument = (cmd: string): InstructionError =>
  new InstructionError(`${cmd} requires at least one argument`);
export const exactlyOneArgument = (cmd: string): InstructionError =>
  new InstructionError(`${cmd} requires exactly one argument`);
export const noDestinationArgument = (cmd: string): InstructionError =>
  new InstructionError(`${cmd} requires at least two arguments, but only one was provided. Destination could not be determined`);
export const blankNames = (cmd: string): InstructionError => new InstructionError(`${cmd} names can not be blank`);
export const notJSON = (cmd: string): InstructionError =>
  new InstructionError(`${cmd} requires the arguments to be in JSON form`);

/** BuildKit's handleJSONArgs: exec-form arguments as they are, shell form joined into one string. */
export function jsonArgs(args: string[], json: boolean): string[] {
  if (args.length === 0) return [];
  if (json) return args;
  return [args.join(" ")];
}
