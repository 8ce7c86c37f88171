// ONBUILD trigger: kept as text, run when the image is used as a base.
import { type ParseRequest, InstructionError, atLeastOneArgument } from "./request.js";
import type { OnbuildInstruction } from "./types.js";

export function parseOnbuild(req: ParseRequest): OnbuildInstruction {
  const inner = req.node.next;
  if (!inner) throw atLeastOneArgument("ONBUILD");
  req.flags.parse();
  const trigger = inner.original.trim().split(/[\t\v\f\r ]+/)[0]!.toUpperCase();
  if (trigger === "ONBUILD") throw new InstructionError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  if (trigger === "MAINTAINER" || trigger === "FROM") {
    throw new InstructionError(`${trigger} isn't allowed as an ONBUILD trigger`);
  }
  let expression = req.original.replace(/^\s*ONBUILD\s*/i, "");
  for (const doc of req.node.heredocs) expression += "\n" + doc.content + doc.name;
  return { kind: "ONBUILD", place: req.place, original: req.original, expression, trigger };
}
