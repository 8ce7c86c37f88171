// ENV, LABEL and ARG: name/value declarations.
import { type ParseRequest, InstructionError, atLeastOneArgument, blankNames } from "./request.js";
import type { ArgInstruction, ArgPair, EnvInstruction, KeyValuePair, LabelInstruction } from "./types.js";

// The parser gives (key, value, separator) triples; an empty separator is the legacy form.
function keyValuePairs(args: string[], cmd: string): KeyValuePair[] {
  if (args.length === 0) throw atLeastOneArgument(cmd);
  if (args.length % 3 !== 0) throw new InstructionError(`Bad input to ${cmd}, too many arguments`);
  const pairs: KeyValuePair[] = [];
  for (let j = 0; j < args.length; j += 3) {
    if (args[j]!.length === 0) throw blankNames(cmd);
    pairs.push({ key: args[j]!, value: args[j + 1]!, noDelim: args[j + 2] === "" });
  }
  return pairs;
}

export function parseEnv(req: ParseRequest): EnvInstruction {
  req.flags.parse();
  return { kind: "ENV", place: req.place, original: req.original, env: keyValuePairs(req.args, "ENV") };
}

export function parseLabel(req: ParseRequest): LabelInstruction {
  req.flags.parse();
  return { kind: "LABEL", place: req.place, original: req.original, labels: keyValuePairs(req.args, "LABEL") };
}

/** ARG name[=default] ... */
export function parseArg(req: ParseRequest): ArgInstruction {
  if (req.args.length < 1) throw atLeastOneArgument("ARG");
  req.flags.parse();
  const args: ArgPair[] = req.args.map((arg) => {
    const eq = arg.indexOf("=");
    if (eq < 0) return { key: arg };
    if (eq === 0) throw blankNames("ARG");
    return { key: arg.slice(0, eq), value: arg.slice(eq + 1) };
  });
  return { kind: "ARG", place: req.place, original: req.original, args };
}
