import { type ParseRequest, InstructionError } from "./request.js";
import { optional } from "./flags.js";
import type { FromInstruction } from "./types.js";

const VALID_STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;
/** Names BuildKit 0.13 takes as stage names and later releases warn about (ReservedStageName): stages.ts warns. */
export const RESERVED_STAGE_NAMES: ReadonlySet<string> = new Set(["context", "scratch"]);

/** FROM [--platform=p] image [AS name] */
export function parseFrom(req: ParseRequest): FromInstruction {
  const args = req.args;
  let stageName: string | undefined;
  if (args.length === 3 && args[1]!.toLowerCase() === "as") {
    stageName = args[2]!.toLowerCase();
    if (!VALID_STAGE_NAME.test(stageName)) {
      throw new InstructionError(
        `invalid name for build stage: ${JSON.stringify(args[2])}, name can't start with a number or contain symbols`,
      );
    }
  } else if (args.length !== 1) {
    throw new InstructionError("FROM requires either one or three arguments");
  }
  const platform = req.flags.addString("platform");
  req.flags.parse();
  return {
    kind: "FROM",
    place: req.place,
    original: req.original,
    baseName: args[0]!,
    ...(stageName !== undefined ? { stageName } : {}),
    ...(optional(platform) !== undefined ? { platform: platform.value } : {}),
  };
}
