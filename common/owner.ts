// Who owns what a process leaves in the store. Everything written outside a final rename (scratch
// folders and files, lock files, shared-lock markers, active snapshots) names its owner by an owner
// token `<pid>.<start>`: the pid and the process's start time (field 22 of /proc/PID/stat, clock ticks
// since boot). A pid alone is not enough: pids wrap within minutes (pid_max 32768), and a killed
// build's leftovers would then look owned by whatever process got its pid, for ever.
import { readFileSync, statSync } from "node:fs";
import { randomHex } from "./digest.js";
import { errnoCode } from "./errors.js";

export interface Owner {
  pid: number;
  /** Start time in clock ticks since boot; undefined for a name written by an older tsbuild (pid only). */
  start: number | undefined;
}

/** A process's start time (clock ticks since boot), or undefined when no such process runs. */
export function processStart(pid: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "latin1");
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ENOENT" || code === "ESRCH") return undefined;
    throw e;
  }
  // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so count from its closing one.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // a zombie (killed, not yet reaped by its parent) holds nothing any more: it is dead to its leftovers
  if (fields[0] === "Z" || fields[0] === "X") return undefined;
  const start = Number(fields[22 - 3]);
  if (!Number.isSafeInteger(start)) throw new Error(`/proc/${pid}/stat: no start time in ${JSON.stringify(text.slice(0, 200))}`);
  return start;
}

let self: string | undefined;

/** This process's owner token, `<pid>.<start>`. */
export function ownerToken(): string {
  self ??= `${process.pid}.${processStart(process.pid) ?? 0}`;
  return self;
}

/** A fresh name `<kind>-<pid>.<start>-<hex>` owned by this process (bytes: random bytes, 4 → 8 hex digits). */
export function ownedName(kind: string, bytes = 4): string {
  return `${kind}-${ownerToken()}-${randomHex(bytes)}`;
}

/** `<pid>.<start>`, or a bare `<pid>` (older tsbuild), as an Owner; undefined when it is neither. */
export function parseOwnerToken(token: string): Owner | undefined {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(token.trim());
  if (m === null) return undefined;
  const pid = Number(m[1]);
  if (!(pid > 0)) return undefined;
  return { pid, start: m[2] === undefined ? undefined : Number(m[2]) };
}

// `<kind>-<owner>-<hex>` (8 hex digits in runtime/, 12 or 16 in image/), and a name made beside its
// target: an atomic write's `<file>.tmp-<owner>-<hex>`, a cache mount's `<folder>.new-<owner>-<hex>`.
const OWNED_NAME = /(?:^[a-z]+(?:-[a-z]+)*-|\.[a-z]+-)(\d+(?:\.\d+)?)-(?:[0-9a-f]{8}|[0-9a-f]{12}|[0-9a-f]{16})$/;

/** The owner named by a scratch or temporary name, or undefined if the name is not one. */
export function ownerOfName(name: string): Owner | undefined {
  const m = OWNED_NAME.exec(name);
  return m === null ? undefined : parseOwnerToken(m[1] as string);
}

/**
 * Whether the owner still runs. With a start time, the pid must exist and have started then. A bare pid
 * (written by an older tsbuild) counts as alive if the process exists, unless `path` is given and the
 * process started after that file was last written: then the pid has been reused since.
 */
export function ownerAlive(owner: Owner, path?: string): boolean {
  const start = processStart(owner.pid);
  if (start === undefined) return false;
  if (owner.start !== undefined) return start === owner.start;
  if (path === undefined) return true;
  const st = statSync(path, { throwIfNoEntry: false });
  if (st === undefined) return true; // gone meanwhile: whoever asks looks again
  return startedAtMs(start) <= st.mtimeMs + 1000; // a second of slack: ticks and boot time are coarse
}

/** Whether the named thing's owner is known and dead (a name without an owner is never dead-owned). */
export function deadOwned(name: string, path?: string): boolean {
  const owner = ownerOfName(name);
  return owner !== undefined && !ownerAlive(owner, path);
}

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux architecture Node runs on
let bootMs: number | undefined;

function startedAtMs(startTicks: number): number {
  if (bootMs === undefined) {
    const m = /^btime (\d+)$/m.exec(readFileSync("/proc/stat", "latin1"));
    if (m === null) throw new Error("/proc/stat: no btime line");
    bootMs = Number(m[1]) * 1000;
  }
  return bootMs + (startTicks * 1000) / CLOCK_TICKS_PER_SECOND;
}
