// BuildKit takes an owner name it cannot find as id 0 without a word (`USER nosuch` then WORKDIR, or
// `COPY --chown=nosuch`): tsbuild does the same, and says so with the Dockerfile line.
import type { SourcePlace } from "../../common/errors.js";
import type { UnknownOwner } from "../../runtime/user.js";
import type { StepContext } from "./context.js";

/** A resolveChown callback that warns once per name: `what` is the flag or instruction that named it. */
export function unknownOwnerWarning(ctx: Pick<StepContext, "session">, place: SourcePlace, what: string): UnknownOwner {
  const told = new Set<string>();
  return (kind, name) => {
    if (told.has(`${kind}:${name}`)) return;
    told.add(`${kind}:${name}`);
    const file = kind === "user" ? "/etc/passwd" : "/etc/group";
    const fallback = kind === "user" ? "uid 0 and gid 0" : "the user's gid";
    ctx.session.emit({
      type: "warning",
      place,
      message: `${what}: ${kind} ${JSON.stringify(name)} not found in the image's ${file}: using ${fallback}, as BuildKit does`,
    });
  };
}
