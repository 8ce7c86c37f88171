// `tsbuild run`'s own options: everything before IMAGE; everything after it is the command, as Docker parses.
import { UserError } from "../../common/errors.js";

/** A flag tsbuild run does not know, or a bad flag value: Docker exits 125 for these. */
export class FlagError extends UserError {
  override readonly exitCode = 125;
}

export interface RunFlags {
  rm?: boolean;
  /** -i: standard input forwarded to the process. */
  interactive?: boolean;
  /** -d: run in the background (a supervisor process keeps its output and exit code), print the id. */
  detach?: boolean;
  /** -t: the process gets a pseudo-terminal. */
  tty?: boolean;
  /** -v HOST:CONTAINER[:ro|rw]: bind mounts. */
  volumes: Array<{ source: string; target: string; readOnly: boolean }>;
  name?: string;
  env: string[];
  workdir?: string;
  user?: string;
  entrypoint?: string;
  network: "host" | "none";
  /** --platform: which image of a multi-platform one (default: this machine's). */
  platform?: string;
}

export interface RunArgs {
  image: string;
  command: string[];
  flags: RunFlags;
}

const VALUED: Record<string, "name" | "env" | "workdir" | "user" | "entrypoint" | "network" | "volume" | "platform"> = {
  "--platform": "platform",
  "--name": "name", "-e": "env", "--env": "env", "-w": "workdir", "--workdir": "workdir",
  "-u": "user", "--user": "user", "--entrypoint": "entrypoint", "--network": "network", "--net": "network",
  "-v": "volume", "--volume": "volume",
};

/** Boolean flags, alone or combined (`-it`, `-dit`, `-i`). */
const SWITCHES: Record<string, "rm" | "interactive" | "tty" | "detach"> = {
  "--rm": "rm", "-i": "interactive", "--interactive": "interactive", "-t": "tty", "--tty": "tty", "-d": "detach", "--detach": "detach",
};

/** `-v /host/path:/in/container[:ro]`; a named volume (no leading `/`) is refused. */
function parseVolume(value: string): RunFlags["volumes"][number] {
  const parts = value.split(":");
  const [source = "", target = "", mode] = parts;
  if (parts.length < 2 || parts.length > 3 || (mode !== undefined && mode !== "ro" && mode !== "rw")) {
    throw new FlagError(`invalid volume specification: '${value.slice(0, 200)}': expected /HOST/PATH:/CONTAINER/PATH[:ro]`);
  }
  if (!source.startsWith("/")) throw new FlagError(`invalid volume specification: '${value.slice(0, 200)}': named volumes are not supported by tsbuild; give an absolute host path`);
  if (!target.startsWith("/")) throw new FlagError(`invalid volume specification: '${value.slice(0, 200)}': the container path must be absolute`);
  return { source, target, readOnly: mode === "ro" };
}

export function parseRunArgs(args: string[]): RunArgs | "help" {
  const flags: RunFlags = { env: [], network: "host", volumes: [] };
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i] as string;
    if (a === "--") { i++; break; }
    if (!a.startsWith("-") || a === "-") break;
    if (a === "-h" || a === "--help") return "help";
    const switchKey = SWITCHES[a];
    if (switchKey !== undefined) { flags[switchKey] = true; continue; }
    if (/^-[itd]{2,3}$/.test(a)) {
      for (const letter of a.slice(1)) flags[SWITCHES[`-${letter}`] as "interactive" | "tty" | "detach"] = true;
      continue;
    }
    const eq = a.startsWith("--") ? a.indexOf("=") : -1;
    const opt = eq > 0 ? a.slice(0, eq) : a;
    const key = VALUED[opt];
    if (key === undefined) throw new FlagError(`unknown flag: ${a} (see tsbuild run --help)`);
    let value: string;
    if (eq > 0) value = a.slice(eq + 1);
    else {
      const next = args[++i];
      if (next === undefined) throw new FlagError(`flag needs an argument: ${a}`);
      value = next;
    }
    if (key === "env") flags.env.push(value);
    else if (key === "volume") flags.volumes.push(parseVolume(value));
    else if (key === "network") {
      if (value !== "host" && value !== "none") throw new FlagError(`invalid --network ${value}: host or none`);
      flags.network = value;
    } else flags[key] = value;
  }
  const image = args[i];
  if (image === undefined) throw new UserError('"tsbuild run" requires at least 1 argument: IMAGE [COMMAND] [ARG...]');
  return { image, command: args.slice(i + 1), flags };
}
