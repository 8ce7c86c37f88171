// The commands that act on a running container, as Docker spells them: logs (of a detached one), stop
// (SIGTERM, then SIGKILL after -t seconds), kill (-s SIGNAL), exec (a process inside it).
import { readFile } from "node:fs/promises";
import { UserError, errnoCode } from "../../common/errors.js";
import { storePaths, type StorePaths } from "../../common/storepaths.js";
import { execInContainer, execOnTerminal, signalContainer } from "../../runtime/container.js";
import { containerLog, findContainer, isRunning, type ContainerRecord } from "../../runtime/containers.js";
import { attachTerminal, checkInputTerminal } from "../userterminal.js";
import { FlagError } from "./runargs.js";

/** The process could not be started in the container: Docker's exec exits 126 whatever the cause. */
class ExecStartError extends UserError {
  override readonly exitCode = 126;
}

async function running(paths: StorePaths, name: string): Promise<ContainerRecord & { runcId: string }> {
  const rec = await findContainer(paths, name);
  if (!isRunning(rec) || rec.runcId === undefined) throw new UserError(`container ${rec.name} is not running`);
  return rec as ContainerRecord & { runcId: string };
}

async function logLines(paths: StorePaths, rec: ContainerRecord): Promise<Array<{ log: string; stream: string }>> {
  let text: string;
  try {
    text = await readFile(containerLog(paths, rec.id), "utf8");
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return [];
    throw e;
  }
  return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as { log: string; stream: string });
}

export async function runLogs(root: string, name: string, opts: { follow?: boolean }): Promise<void> {
  const paths = storePaths(root);
  let shown = 0;
  for (;;) {
    const rec = await findContainer(paths, name);
    const lines = await logLines(paths, rec);
    for (const l of lines.slice(shown)) (l.stream === "stderr" ? process.stderr : process.stdout).write(l.log);
    shown = lines.length;
    if (!opts.follow || !isRunning(rec)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function runStop(root: string, names: string[], opts: { time?: string }): Promise<void> {
  const paths = storePaths(root);
  const seconds = Number(opts.time ?? "10");
  if (!Number.isFinite(seconds) || seconds < 0) throw new UserError(`invalid -t ${String(opts.time).slice(0, 40)}: seconds`);
  for (const name of names) {
    const rec = await findContainer(paths, name);
    if (isRunning(rec) && rec.runcId !== undefined) {
      await signalContainer(paths, rec.runcId, "TERM");
      const deadline = Date.now() + seconds * 1000;
      while (isRunning(await findContainer(paths, name)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      if (isRunning(await findContainer(paths, name))) await signalContainer(paths, rec.runcId, "KILL");
      while (isRunning(await findContainer(paths, name))) await new Promise((r) => setTimeout(r, 100));
    }
    process.stdout.write(`${name}\n`);
  }
}

export async function runKill(root: string, names: string[], opts: { signal?: string }): Promise<void> {
  const paths = storePaths(root);
  const signal = (opts.signal ?? "KILL").toUpperCase().replace(/^SIG/, "");
  for (const name of names) {
    const rec = await running(paths, name);
    if (!(await signalContainer(paths, rec.runcId, signal))) throw new UserError(`cannot kill container ${rec.name}: signal ${signal.slice(0, 20)}`);
    process.stdout.write(`${name}\n`);
  }
}

export async function runExec(root: string, args: string[]): Promise<void> {
  const paths = storePaths(root);
  let i = 0;
  let interactive = false;
  let tty = false;
  let workdir: string | undefined;
  const env: string[] = [];
  for (; i < args.length; i++) {
    const a = args[i] as string;
    if (a === "-i" || a === "--interactive") interactive = true;
    else if (a === "-t" || a === "--tty") tty = true;
    else if (a === "-it" || a === "-ti") [interactive, tty] = [true, true];
    else if (a === "-w" || a === "--workdir") workdir = args[++i];
    else if (a === "-e" || a === "--env") env.push(args[++i] ?? "");
    else if (a.startsWith("-")) throw new FlagError(`unknown flag: ${a.slice(0, 40)} (tsbuild exec takes -i, -t, -w, -e)`);
    else break;
  }
  const [name, ...command] = args.slice(i);
  if (name === undefined || command.length === 0) throw new UserError('"tsbuild exec" requires at least 2 arguments: CONTAINER COMMAND [ARG...]');
  const rec = await running(paths, name);
  const opts = { cwd: workdir ?? (rec.config.WorkingDir || "/"), env };
  if (!tty) {
    process.exitCode = await execInContainer(paths, rec.runcId, command, { ...opts, interactive });
    return;
  }
  checkInputTerminal(interactive);
  const terminal = attachTerminal(interactive);
  try {
    const result = await execOnTerminal(paths, rec.runcId, command, opts, terminal.io);
    if (result.startError !== undefined) throw new ExecStartError(`OCI runtime exec failed: ${result.startError}`);
    process.exitCode = result.exitCode;
  } finally {
    terminal.detach();
  }
}
