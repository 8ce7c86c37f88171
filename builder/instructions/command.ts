// RUN, CMD, ENTRYPOINT and SHELL: instructions whose arguments are a command line.
import { type ParseRequest, InstructionError, atLeastOneArgument, jsonArgs, notJSON } from "./request.js";
import { assertFromNotExpanded, parseRunMount } from "./runmount.js";
import type { CmdInstruction, CommandLine, EntrypointInstruction, RunInstruction, ShellInstruction } from "./types.js";

function commandLine(req: ParseRequest): CommandLine {
  return {
    cmdLine: jsonArgs(req.args, req.node.json),
    prependShell: !req.node.json,
    files: req.node.heredocs.map((h) => ({ name: h.name, data: h.content, chomp: h.chomp, expand: h.expand })),
  };
}

const NETWORKS = ["default", "none", "host"] as const;
const SECURITIES = ["sandbox", "insecure"] as const;

function oneOf<T extends string>(what: string, value: string, allowed: readonly T[]): T | undefined {
  if (value === "") return undefined;
  const found = allowed.find((a) => a === value);
  if (found === undefined) throw new InstructionError(`unsupported ${what} mode ${JSON.stringify(value)}`);
  return found;
}

/** RUN [--mount=...] [--network=default|none|host] [--security=sandbox|insecure] command */
export function parseRun(req: ParseRequest): RunInstruction {
  const mount = req.flags.addStrings("mount");
  const network = req.flags.addString("network");
  const security = req.flags.addString("security");
  req.flags.parse();
  const net = oneOf("network", network.value, NETWORKS);
  const sec = oneOf("security", security.value, SECURITIES);
  // Specs with variables are checked again once expanded (at dispatch).
  for (const spec of mount.values) {
    assertFromNotExpanded(spec);
    if (!spec.includes("$")) parseRunMount(spec);
  }
  return {
    kind: "RUN",
    place: req.place,
    original: req.original,
    command: commandLine(req),
    mounts: mount.values,
    ...(net !== undefined ? { network: net } : {}),
    ...(sec !== undefined ? { security: sec } : {}),
  };
}

export function parseCmd(req: ParseRequest): CmdInstruction {
  req.flags.parse();
  return { kind: "CMD", place: req.place, original: req.original, command: commandLine(req) };
}

export function parseEntrypoint(req: ParseRequest): EntrypointInstruction {
  req.flags.parse();
  return { kind: "ENTRYPOINT", place: req.place, original: req.original, command: commandLine(req) };
}

/** SHELL ["executable", "param"...]: JSON form only. */
export function parseShell(req: ParseRequest): ShellInstruction {
  req.flags.parse();
  const shell = jsonArgs(req.args, req.node.json);
  if (shell.length === 0) throw atLeastOneArgument("SHELL");
  if (!req.node.json) throw notJSON("SHELL");
  return { kind: "SHELL", place: req.place, original: req.original, shell };
}
