// `tsbuild run`'s own options: everything before IMAGE; everything after it is the command, as Docker parses.
import { UserError } from "../../common/errors.js";

export interface RunFlags {
  rm?: boolean;
  name?: string;
  env: string[];
  workdir?: string;
  user?: string;
  entrypoint?: string;
  network: "host" | "none";
}

export interface RunArgs {
  image: string;
  command: string[];
  flags: RunFlags;
}

const VALUED: Record<string, "name" | "env" | "workdir" | "user" | "entrypoint" | "network"> = {
  "--name": "name", "-e": "env", "--env": "env", "-w": "workdir", "--workdir": "workdir",
  "-u": "user", "--user": "user", "--entrypoint": "entrypoint", "--network": "network", "--net": "network",
};

export function parseRunArgs(args: string[]): RunArgs | "help" {
  const flags: RunFlags = { env: [], network: "host" };
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i] as string;
    if (a === "--") { i++; break; }
    if (!a.startsWith("-") || a === "-") break;
    if (a === "-h" || a === "--help") return "help";
    if (a === "--rm") { flags.rm = true; continue; }
    const eq = a.startsWith("--") ? a.indexOf("=") : -1;
    const opt = eq > 0 ? a.slice(0, eq) : a;
    const key = VALUED[opt];
    if (key === undefined) throw new UserError(`unknown flag: ${a} (see tsbuild run --help)`);
    let value: string;
    if (eq > 0) value = a.slice(eq + 1);
    else {
      const next = args[++i];
      if (next === undefined) throw new UserError(`flag needs an argument: ${a}`);
      value = next;
    }
    if (key === "env") flags.env.push(value);
    else if (key === "network") {
      if (value !== "host" && value !== "none") throw new UserError(`invalid --network ${value}: host or none`);
      flags.network = value;
    } else flags[key] = value;
  }
  const image = args[i];
  if (image === undefined) throw new UserError('"tsbuild run" requires at least 1 argument: IMAGE [COMMAND] [ARG...]');
  return { image, command: args.slice(i + 1), flags };
}
