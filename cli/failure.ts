// The one place an error becomes output: a user's mistake is one line and exit 1 (125 for a bad flag,
// as Docker), never a stack trace.
import { CommanderError } from "commander";
import { DiskFullError, RunFailedError, UserError, clipQuote, errorMessage, isDiskFull } from "../common/errors.js";

const OPTION_ERRORS = new Set([
  "commander.unknownOption", "commander.optionMissingArgument", "commander.missingMandatoryOptionValue",
  "commander.invalidArgument", "commander.conflictingOption",
]);

/** The longest error line printed (characters). */
const MAX_MESSAGE = 2000;

/** A message as one line of at most MAX_MESSAGE characters (the places that quote input clip it; this is the last guard). */
function oneLine(message: string): string {
  return clipQuote(message.replace(/\s*\n\s*/g, " "), MAX_MESSAGE);
}

export function reportFailure(e: unknown): number {
  if (e instanceof CommanderError) {
    // commander has printed its own message (unknown option, --help, --version). Docker exits 125 for
    // a flag it does not know or a bad flag value, 1 for a wrong number of arguments.
    return OPTION_ERRORS.has(e.code) ? 125 : e.exitCode;
  }
  if (e instanceof RunFailedError) {
    for (const line of e.lastOutput) process.stderr.write(`  | ${line}\n`);
    process.stderr.write(`error: ${e.message}\n`);
    return e.exitCode;
  }
  if (e instanceof UserError) {
    process.stderr.write(`error: ${oneLine(e.message)}\n`);
    return e.exitCode;
  }
  if (isDiskFull(e)) {
    // the machine's state, not a bug: where it happened when the call had a path (a write on an open file has none)
    const path = typeof e === "object" && e !== null && typeof (e as { path?: unknown }).path === "string" ? (e as { path: string }).path : undefined;
    return reportFailure(new DiskFullError(path === undefined ? "" : `writing ${path}`, e));
  }
  if (e instanceof Error && e.name === "AbortError") {
    process.stderr.write("error: interrupted\n");
    return 130;
  }
  process.stderr.write(`error: ${oneLine(errorMessage(e))}\n`); // a tool's output in a message stays on the line
  if (process.env.TSBUILD_DEBUG && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  return 2;
}
