// HEALTHCHECK NONE | HEALTHCHECK [--interval=] [--timeout=] [--start-period=] [--start-interval=] [--retries=] CMD command
import { DurationError, parseGoDuration } from "./duration.js";
import { type ParseRequest, InstructionError, atLeastOneArgument, jsonArgs } from "./request.js";
import type { HealthcheckInstruction } from "./types.js";

const MINIMUM_DURATION_NS = 1e6; // 1ms

function interval(name: string, value: string): number {
  if (value === "") return 0;
  let d: number;
  try {
    d = parseGoDuration(value);
  } catch (e) {
    if (e instanceof DurationError) throw new InstructionError(e.message);
    throw e;
  }
  if (d === 0) return 0;
  if (d < MINIMUM_DURATION_NS) throw new InstructionError(`Interval "${name}" cannot be less than 1ms`);
  return d;
}

export function parseHealthcheck(req: ParseRequest): HealthcheckInstruction {
  if (req.args.length === 0) throw atLeastOneArgument("HEALTHCHECK");
  const base = { kind: "HEALTHCHECK" as const, place: req.place, original: req.original };
  let type = req.args[0]!.toUpperCase();
  const args = req.args.slice(1);
  if (type === "NONE") {
    // BuildKit does not look at flags here
    if (args.length !== 0) throw new InstructionError("HEALTHCHECK NONE takes no arguments");
    return { ...base, health: { test: ["NONE"], interval: 0, timeout: 0, startPeriod: 0, startInterval: 0, retries: 0 } };
  }
  const flInterval = req.flags.addString("interval");
  const flTimeout = req.flags.addString("timeout");
  const flStartPeriod = req.flags.addString("start-period");
  const flStartInterval = req.flags.addString("start-interval");
  const flRetries = req.flags.addString("retries");
  req.flags.parse();
  if (type !== "CMD") throw new InstructionError(`Unknown type ${JSON.stringify(type)} in HEALTHCHECK (try CMD)`);
  const cmd = jsonArgs(args, req.node.json);
  if (cmd.length === 0) throw new InstructionError("Missing command after HEALTHCHECK CMD");
  if (!req.node.json) type = "CMD-SHELL";
  let retries = 0;
  if (flRetries.value !== "") {
    if (!/^[+-]?\d+$/.test(flRetries.value) || Math.abs(Number(flRetries.value)) > 2 ** 31 - 1) {
      throw new InstructionError(`strconv.ParseInt: parsing ${JSON.stringify(flRetries.value)}: invalid syntax`);
    }
    retries = Number(flRetries.value);
    if (retries < 0) throw new InstructionError(`--retries cannot be negative (${retries})`);
  }
  return {
    ...base,
    health: {
      test: [type, ...cmd],
      interval: interval("interval", flInterval.value),
      timeout: interval("timeout", flTimeout.value),
      startPeriod: interval("start-period", flStartPeriod.value),
      startInterval: interval("start-interval", flStartInterval.value),
      retries,
    },
  };
}
