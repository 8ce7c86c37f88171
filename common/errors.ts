// Typed errors. Every error a user can cause is a UserError: the CLI prints its message as one
// line and exits non-zero, without a stack trace. Anything else is a bug and is shown in full.

/** Where in a file something went wrong (1-based line; column optional). */
export interface SourcePlace {
  file: string;
  line: number;
  column?: number;
}

export class TsbuildError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad input from the user: printed as one line, exit code 1. */
export class UserError extends TsbuildError {
  readonly exitCode: number = 1;
}

/** A problem in the Dockerfile, with its place: `Dockerfile:12: unknown instruction: FOO`. */
export class DockerfileError extends UserError {
  constructor(readonly place: SourcePlace, readonly detail: string) {
    super(`${place.file}:${place.line}: ${detail}`);
  }
}

/** A problem with a file in the build context (missing, outside the context, unreadable). */
export class ContextError extends UserError {
  constructor(readonly path: string, detail: string, place?: SourcePlace) {
    super(place ? `${place.file}:${place.line}: ${detail}` : detail);
  }
}

/** An image reference that does not parse, or names nothing in the store. */
export class ImageReferenceError extends UserError {
  constructor(readonly reference: string, detail: string) {
    super(detail);
  }
}

export class ImageNotFoundError extends UserError {
  constructor(readonly reference: string, detail?: string) {
    super(detail ?? `image not found: ${reference}`);
  }
}

/** An archive (docker-archive, OCI layout, tar) that is not what it should be. */
export class ArchiveError extends UserError {}

/** A RUN step whose command failed: its argv, exit code and the last lines it printed. */
export class RunFailedError extends UserError {
  readonly lastOutput: string[];

  constructor(
    readonly place: SourcePlace | undefined,
    readonly command: string,
    readonly exitStatus: number,
    lastOutput: string[],
  ) {
    const where = place ? `${place.file}:${place.line}: ` : "";
    super(`${where}${clipQuote(command, 600)}: exit code ${exitStatus}`);
    this.lastOutput = lastOutput.map((line) => clipQuote(line, 1000));
  }
}

/**
 * User input (a Dockerfile line, a command's output) as quoted in a message: at most `max` characters,
 * the middle left out and counted. A 100 MB RUN line made a 200 MB error message.
 */
export function clipQuote(text: string, max = 300): string {
  if (text.length <= max) return text;
  const head = Math.ceil((max * 2) / 3);
  const tail = max - head;
  return `${text.slice(0, head)}…[${text.length - max} characters left out]…${text.slice(text.length - tail)}`;
}

/** A full disk or quota under the store: what was being done, and what to do about it (one line, exit 1). */
export class DiskFullError extends UserError {
  constructor(doing: string, cause: unknown) {
    const what = errnoCode(cause) === "EDQUOT" ? "disk quota exceeded" : "no space left on device";
    super(`${what}${doing === "" ? "" : ` ${doing}`}: free some (tsbuild image prune, tsbuild cache prune) or put the store where there is room (--root)`, { cause });
  }
}

export function isDiskFull(e: unknown): boolean {
  const code = errnoCode(e);
  return code === "ENOSPC" || code === "EDQUOT";
}

/** A failure of the machine or an external tool (mount, runc) that is not the user's input. */
export class RuntimeFailure extends TsbuildError {}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The errno code of a Node system error (`ENOENT`, ...), or undefined. */
export function errnoCode(e: unknown): string | undefined {
  if (typeof e === "object" && e !== null && "code" in e) {
    const code = (e as { code: unknown }).code;
    return typeof code === "string" ? code : undefined;
  }
  return undefined;
}
