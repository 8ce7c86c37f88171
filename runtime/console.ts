// A container's pseudo-terminal (`run -t`, `exec -t`). Given --console-socket, runc creates the pty
// inside the container and sends its master over that unix socket (SCM_RIGHTS), which Node's net
// module cannot receive: the native helpers take it (listenUnix, acceptUnix, recvFd). runc must then
// detach (it refuses a console socket otherwise), which leaves the container's process an orphan: this
// process becomes a subreaper first, so the orphan is its child and waitpid gives its exit status, as
// conmon does for podman. What the caller sees: output chunks, a way to type and to resize, an exit code.
import { closeSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ReadStream } from "node:tty";
import { errnoCode, RuntimeFailure } from "../common/errors.js";
import { native } from "../common/native.js";
import { scratchName } from "./owner.js";

export interface TerminalSize {
  rows: number;
  cols: number;
}

/** How a caller talks to the process on the terminal. */
export interface TerminalIO {
  /** The terminal's size at start (none or 0: the kernel's 0x0). */
  size?: TerminalSize;
  /** What is typed: carried to the terminal as it comes (its end is not passed on: a terminal has none). */
  stdin?: NodeJS.ReadableStream;
  /** What the process writes (stdout and stderr are one stream on a terminal). */
  onOutput?: (chunk: Buffer) => void;
  /** Receives the function that resizes the container's terminal (for SIGWINCH), once it exists. */
  onResize?: (resize: (size: TerminalSize) => void) => void;
}

/** What came of a launch on a terminal: runc's own exit code, and the process's when runc started it. */
export interface TerminalRun {
  launchCode: number;
  exitCode?: number;
}

const POLL_MS = 5;
/** After the process exits, how long its last output may take to be read from the master. */
const DRAIN_MS = 2000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A console socket path: in `dir` when it fits a unix socket address (107 bytes), else in the system's temp folder. */
function socketPath(dir: string): string {
  const inDir = join(dir, "console.sock");
  return Buffer.byteLength(inDir) < 100 ? inDir : join(tmpdir(), `${scratchName("console")}.sock`);
}

function closeQuietly(fd: number): void {
  if (fd < 0) return;
  try {
    closeSync(fd);
  } catch (e) {
    if (errnoCode(e) !== "EBADF") throw e;
  }
}

/**
 * Runs `launch` (a detached `runc run` or `runc exec` given the console socket and a pid file, resolving
 * to runc's exit code), receives the terminal's master, carries bytes until the process has exited and
 * its output is read, and returns its exit code. The caller kills and deletes the container on failure.
 */
export async function runOnTerminal(
  dir: string, launch: (consoleSocket: string, pidFile: string) => Promise<number>, io: TerminalIO,
): Promise<TerminalRun> {
  const n = native();
  n.setSubreaper();
  const sock = socketPath(dir);
  const pidFile = join(dir, `${scratchName("pid")}`);
  const listenFd = n.listenUnix(sock);
  let conn = -1;
  let master = -1;
  let pollError: unknown;
  const poll = (): void => {
    if (pollError !== undefined) return;
    try {
      if (conn < 0) conn = n.acceptUnix(listenFd);
      if (conn >= 0 && master < 0) master = n.recvFd(conn);
    } catch (e) {
      pollError = e; // runc's own exit code says more; kept for when it says nothing
    }
  };
  try {
    let launched = false;
    const launching = launch(sock, pidFile).finally(() => { launched = true; });
    while (!launched && master < 0) {
      poll();
      if (master < 0) await sleep(POLL_MS);
    }
    const launchCode = await launching;
    if (launchCode !== 0) {
      closeQuietly(master);
      return { launchCode };
    }
    // a detached runc has sent the master before it exits: it is queued on the socket
    for (let i = 0; master < 0 && pollError === undefined && i < 200; i++) {
      poll();
      if (master < 0) await sleep(POLL_MS);
    }
    if (master < 0) throw new RuntimeFailure(`runc started the process but sent no terminal${pollError instanceof Error ? `: ${pollError.message}` : ""}`);
  } finally {
    closeQuietly(conn);
    closeQuietly(listenFd);
    rmSync(sock, { force: true });
  }
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 0) {
    closeQuietly(master);
    throw new RuntimeFailure(`runc wrote no pid for the process on the terminal (${pidFile})`);
  }
  return { launchCode: 0, exitCode: await carry(master, n.waitPid(pid), io) };
}

/** Carries bytes between the caller and the master until the process has exited; closes the master. */
async function carry(master: number, exited: Promise<number>, io: TerminalIO): Promise<number> {
  const n = native();
  let open = true;
  const resize = (size: TerminalSize): void => {
    if (open && size.rows > 0 && size.cols > 0) n.setWinsize(master, size.rows, size.cols);
  };
  if (io.size) resize(io.size);
  const stream = new ReadStream(master);
  const drained = new Promise<void>((resolve, reject) => {
    stream.on("data", (chunk: Buffer) => io.onOutput?.(chunk));
    stream.on("end", resolve);
    stream.on("close", resolve);
    // every slave side closed: the master reads EIO, its end
    stream.on("error", (e) => (errnoCode(e) === "EIO" ? resolve() : reject(new RuntimeFailure(`the container's terminal: ${e.message}`, { cause: e }))));
  });
  drained.catch(() => undefined); // seen by the race below; not an unhandled rejection meanwhile
  const typed = (chunk: Buffer | string): void => {
    if (open) stream.write(chunk);
  };
  io.stdin?.on("data", typed);
  io.onResize?.(resize);
  try {
    const code = await exited;
    await Promise.race([drained, sleep(DRAIN_MS)]);
    return code;
  } finally {
    open = false;
    io.stdin?.off("data", typed);
    stream.destroy();
  }
}
