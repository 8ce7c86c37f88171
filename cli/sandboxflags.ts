// `build --add-host`, `--shm-size`, `--ulimit` and `--allow` as Docker's CLI spells them.
import { UserError } from "../common/errors.js";
import type { SandboxOptions } from "../runtime/ocispec.js";

const ULIMITS = ["core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"];
const ENTITLEMENTS = ["security.insecure", "network.host"];

/** `host:ip` (or `host=ip`); an IPv6 address keeps its colons (`host:::1`). */
export function parseAddHost(value: string): { host: string; ip: string } {
  const m = /^([^:=]+)[:=](.+)$/.exec(value);
  const ip = m?.[2] ?? "";
  if (!m || !/^[0-9.]+$|:/.test(ip)) throw new UserError(`invalid --add-host "${value.slice(0, 100)}": expected HOST:IP`);
  return { host: m[1] as string, ip };
}

/** Docker's RAMInBytes: a number with an optional b, k, m or g (powers of 1024). */
export function parseBytes(value: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmg]?)b?$/i.exec(value.trim());
  if (!m) throw new UserError(`invalid ${flag} "${value.slice(0, 100)}": expected a size such as 64m or 1g`);
  const unit = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? "").toLowerCase()] ?? 1;
  const bytes = Math.floor(Number(m[1]) * unit);
  if (bytes <= 0) throw new UserError(`invalid ${flag} "${value.slice(0, 100)}": must be more than 0`);
  return bytes;
}

/** `nofile=1024:2048` or `nproc=512` (soft = hard). */
export function parseUlimit(value: string): { type: string; soft: number; hard: number } {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(value.trim());
  if (!m || !ULIMITS.includes(m[1] as string)) throw new UserError(`invalid --ulimit "${value.slice(0, 100)}": expected NAME=SOFT[:HARD], NAME one of ${ULIMITS.join(", ")}`);
  const soft = Number(m[2]);
  const hard = m[3] === undefined ? soft : Number(m[3]);
  if (soft > hard && hard >= 0) throw new UserError(`invalid --ulimit "${value.slice(0, 100)}": soft limit ${soft} is above the hard limit ${hard}`);
  return { type: `RLIMIT_${(m[1] as string).toUpperCase()}`, soft, hard };
}

export function parseAllow(values: string[]): string[] {
  for (const v of values) if (!ENTITLEMENTS.includes(v)) throw new UserError(`invalid --allow "${v.slice(0, 100)}": one of ${ENTITLEMENTS.join(", ")}`);
  return values;
}

export function sandboxOptions(flags: { addHost?: string[]; shmSize?: string; ulimit?: string[] }): SandboxOptions | undefined {
  const out: SandboxOptions = {};
  if (flags.addHost && flags.addHost.length > 0) out.extraHosts = flags.addHost.map(parseAddHost);
  if (flags.shmSize !== undefined) out.shmSize = parseBytes(flags.shmSize, "--shm-size");
  if (flags.ulimit && flags.ulimit.length > 0) out.rlimits = flags.ulimit.map(parseUlimit);
  return Object.keys(out).length > 0 ? out : undefined;
}
