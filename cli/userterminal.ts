// The user's terminal while a container's pseudo-terminal is attached (`run -t`, `exec -t`), as the
// Docker CLI does it: with -i on a terminal, raw mode (cfmakeraw, as Docker's: every key, ^C and ^D
// included, goes to the container, whose own terminal echoes and turns "\n" into "\r\n"), the size at start and on every resize (SIGWINCH), and the
// terminal restored on every exit path (also at process exit, should anything throw past the caller).
import { UserError } from "../common/errors.js";
import { native } from "../common/native.js";
import type { TerminalIO, TerminalSize } from "../runtime/console.js";

export interface AttachedTerminal {
  io: TerminalIO;
  /** Restores the terminal and stops listening; idempotent. */
  detach(): void;
}

function sizeOf(out: NodeJS.WriteStream): TerminalSize | undefined {
  return out.isTTY && out.columns > 0 && out.rows > 0 ? { rows: out.rows, cols: out.columns } : undefined;
}

/** `-it` needs a terminal on standard input, as Docker's "the input device is not a TTY". */
export function checkInputTerminal(interactive: boolean): void {
  if (interactive && !process.stdin.isTTY) throw new UserError("the input device is not a TTY");
}

export function attachTerminal(interactive: boolean): AttachedTerminal {
  const stdin = process.stdin;
  const out = process.stdout;
  let attached = true;
  const saved = interactive && stdin.isTTY ? native().makeRaw(0) : undefined;
  const restore = (): void => {
    if (saved) native().restoreTerminal(0, saved);
  };
  if (saved) process.on("exit", restore);
  let onResize: (() => void) | undefined;
  const size = sizeOf(out);
  const io: TerminalIO = {
    ...(size ? { size } : {}),
    ...(interactive ? { stdin } : {}),
    onOutput: (chunk) => void out.write(chunk),
    onResize: (resize) => {
      if (!attached || !out.isTTY) return;
      // Node's tty stream turns SIGWINCH into "resize" with the new columns and rows
      onResize = () => {
        const now = sizeOf(out);
        if (now) resize(now);
      };
      out.on("resize", onResize);
    },
  };
  return {
    io,
    detach() {
      if (!attached) return;
      attached = false;
      if (onResize) out.off("resize", onResize);
      restore();
      process.off("exit", restore);
      if (interactive) stdin.pause(); // a flowing standard input would keep the process alive
    },
  };
}
