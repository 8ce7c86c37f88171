import { DockerfileError } from "../../common/errors.js";
import type { StopSignalInstruction } from "../instructions/index.js";
import type { StepContext } from "./context.js";

// moby/sys/signal's SignalMap for Linux: names without "SIG", RTMIN..RTMIN+15 and RTMAX-14..RTMAX.
const NAMES = new Set([
  "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL", "PIPE",
  "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP", "TTIN", "TTOU",
  "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ", "RTMIN", "RTMAX",
  ...Array.from({ length: 15 }, (_, i) => `RTMIN+${i + 1}`),
  ...Array.from({ length: 14 }, (_, i) => `RTMAX-${i + 1}`),
]);

/** Go's strconv.Atoi: optional sign, decimal digits, within int64. */
function atoi(s: string): bigint | undefined {
  if (!/^[+-]?\d+$/.test(s)) return undefined;
  const n = BigInt(s);
  return n >= -(2n ** 63n) && n < 2n ** 63n ? n : undefined;
}

/**
 * moby/sys/signal.ParseSignal, which BuildKit applies to the expanded word: any non-zero integer
 * (even negative or unknown), or a known name in any case, with or without "SIG".
 */
export function isValidStopSignal(raw: string): boolean {
  const n = atoi(raw);
  if (n !== undefined) return n !== 0n;
  const upper = raw.toUpperCase();
  return NAMES.has(upper.startsWith("SIG") ? upper.slice(3) : upper);
}

/** STOPSIGNAL: the signal that stops a container of this image. */
export function dispatchStopSignal(ctx: StepContext, instr: StopSignalInstruction): void {
  if (!isValidStopSignal(instr.signal)) throw new DockerfileError(instr.place, `invalid signal: ${instr.signal}`);
  ctx.state.containerConfig.StopSignal = instr.signal;
  ctx.state.addHistory(`STOPSIGNAL ${instr.signal}`, true);
}
