// `RUN --mount=type=…,k=v,…`: the mount spec as BuildKit's dockerfile frontend reads it
// (instructions/commands_runmount.go): comma-separated fields, `type` defaults to bind, boolean
// flags may stand alone (`ro`, `rw`), unknown keys and values are errors.
import { posix } from "node:path";
import { InstructionError } from "./request.js";

export type MountType = "bind" | "cache" | "tmpfs" | "secret" | "ssh";
export type CacheSharing = "shared" | "private" | "locked";

export interface RunMount {
  type: MountType;
  /** Absolute or relative to the working dir (resolved by the RUN step); may be empty for secrets. */
  target: string;
  /** bind: path in the context or in `from`; secret: unused. */
  source?: string;
  /** bind/cache: a stage name or index, or an image reference. */
  from?: string;
  readOnly: boolean;
  /** cache/secret: the id (cache default: the target; secret default: the target's basename). */
  id?: string;
  sharing: CacheSharing;
  /** cache: mode/uid/gid of a new cache folder; secret: of the secret file. */
  mode?: number;
  uid?: number;
  gid?: number;
  /** tmpfs: size in bytes. */
  size?: number;
  /** secret/ssh: fail when the secret was not provided. */
  required: boolean;
}

const TYPES: readonly MountType[] = ["bind", "cache", "tmpfs", "secret", "ssh"];
const SHARINGS: readonly CacheSharing[] = ["shared", "private", "locked"];

function parseBool(key: string, value: string | undefined): boolean {
  if (value === undefined) return true;
  const v = value.toLowerCase();
  if (["1", "t", "true"].includes(v)) return true;
  if (["0", "f", "false"].includes(v)) return false;
  throw new InstructionError(`invalid value for ${key}: ${value}`);
}

function parseNumber(key: string, value: string | undefined, base: number): number {
  if (value === undefined || !(base === 8 ? /^0?[0-7]{1,4}$/ : /^\d+$/).test(value)) {
    throw new InstructionError(`invalid value for ${key}: ${value ?? ""}`);
  }
  return Number.parseInt(value, base);
}

/** `64m`, `1g`, `1024` (bytes): the units BuildKit's go-units RAMInBytes accepts. */
function parseSize(value: string | undefined): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?$/i.exec(value ?? "");
  if (!m) throw new InstructionError(`invalid value for size: ${value ?? ""}`);
  const power = " kmgtp".indexOf((m[2] ?? "").toLowerCase() || " ");
  return Math.floor(Number(m[1]) * 1024 ** power);
}

function fields(spec: string): Array<[string, string | undefined]> {
  // BuildKit reads the spec as one CSV record: a field may be quoted to hold commas.
  const out: Array<[string, string | undefined]> = [];
  let i = 0;
  while (i <= spec.length) {
    let field = "";
    if (spec[i] === '"') {
      const end = spec.indexOf('"', i + 1);
      if (end < 0) throw new InstructionError(`invalid mount spec ${JSON.stringify(spec)}: unterminated quote`);
      field = spec.slice(i + 1, end);
      i = end + 1;
      if (i < spec.length && spec[i] !== ",") throw new InstructionError(`invalid mount spec ${JSON.stringify(spec)}`);
      i++;
    } else {
      const comma = spec.indexOf(",", i);
      field = comma < 0 ? spec.slice(i) : spec.slice(i, comma);
      i = comma < 0 ? spec.length + 1 : comma + 1;
    }
    const eq = field.indexOf("=");
    const key = (eq < 0 ? field : field.slice(0, eq)).trim().toLowerCase();
    if (key === "") continue;
    out.push([key, eq < 0 ? undefined : field.slice(eq + 1)]);
  }
  return out;
}

export function parseRunMount(spec: string): RunMount {
  const kv = fields(spec);
  const typeField = kv.find(([k]) => k === "type");
  const type = (typeField?.[1] ?? "bind").toLowerCase() as MountType;
  if (!TYPES.includes(type)) throw new InstructionError(`unsupported mount type ${JSON.stringify(typeField?.[1] ?? "")}`);
  const m: RunMount = { type, target: "", readOnly: type === "bind", sharing: "shared", required: false };
  let roSet = false;
  for (const [key, value] of kv) {
    const need = (): string => {
      if (value === undefined) throw new InstructionError(`invalid field '${key}' must be a key=value pair`);
      return value;
    };
    switch (key) {
      case "type":
        break;
      case "target": case "dst": case "destination":
        m.target = need();
        break;
      case "source": case "src":
        m.source = need();
        break;
      case "from":
        m.from = need();
        break;
      case "readonly": case "ro":
        m.readOnly = parseBool(key, value);
        roSet = true;
        break;
      case "readwrite": case "rw":
        m.readOnly = !parseBool(key, value);
        roSet = true;
        break;
      case "id":
        m.id = need();
        break;
      case "sharing": {
        const s = need().toLowerCase() as CacheSharing;
        if (!SHARINGS.includes(s)) throw new InstructionError(`unsupported sharing value ${JSON.stringify(value)}`);
        m.sharing = s;
        break;
      }
      case "mode":
        m.mode = parseNumber(key, value, 8);
        break;
      case "uid":
        m.uid = parseNumber(key, value, 10);
        break;
      case "gid":
        m.gid = parseNumber(key, value, 10);
        break;
      case "size":
        if (type !== "tmpfs") throw new InstructionError("size cannot be used with " + type + " mounts");
        m.size = parseSize(value);
        break;
      case "required":
        m.required = parseBool(key, value);
        break;
      default:
        throw new InstructionError(`unexpected key '${key}' in '${spec}'`);
    }
  }
  if (type === "secret" && m.id === undefined && m.target === "") {
    throw new InstructionError("one of id or target must be set for secret mounts");
  }
  if (type === "secret" && m.target === "") m.target = `/run/secrets/${m.id ?? ""}`;
  if (type === "secret" && m.id === undefined) m.id = m.target.split("/").filter(Boolean).pop() ?? "";
  if (m.target === "" && type !== "ssh") throw new InstructionError("mount destination must be set");
  // BuildKit: path.Clean(target), so `/c/` and `/c` share one cache
  if (type === "cache" && m.id === undefined) m.id = posix.normalize(m.target).replace(/(.)\/$/, "$1");
  if (type === "secret" || type === "ssh") m.readOnly = true;
  if (type === "cache" && !roSet) m.readOnly = false;
  if (type === "tmpfs" && m.from !== undefined) throw new InstructionError("from cannot be used with tmpfs mounts");
  return m;
}

/**
 * BuildKit reads `from` before expanding variables and refuses one that uses them (a stage is named
 * as written): checked at parse time, where the other fields may still hold variables.
 */
export function assertFromNotExpanded(spec: string): void {
  for (const field of spec.split(",")) {
    const eq = field.indexOf("=");
    if (eq < 0 || field.slice(0, eq).trim().toLowerCase() !== "from") continue;
    if (/\$./.test(field.slice(eq + 1))) throw new InstructionError("'from' doesn't support variable expansion, define alias stage instead");
  }
}
