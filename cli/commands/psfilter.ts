// `ps --filter KEY=VALUE`, as Docker's daemon applies them: values of one key are alternatives, keys
// all apply; a status filter lists stopped containers without -a.
import { ImageReferenceError, UserError } from "../../common/errors.js";
import { parseReference } from "../../image/reference.js";
import { isRunning, type ContainerRecord } from "../../runtime/containers.js";

const KEYS = ["id", "name", "status", "exited", "label", "ancestor"] as const;
type Key = (typeof KEYS)[number];
const STATUSES = new Set(["created", "restarting", "running", "removing", "paused", "exited", "dead"]);

export interface PsFilter {
  /** A status filter shows stopped containers too, as `-a` would. */
  impliesAll: boolean;
  matches(c: ContainerRecord): boolean;
}

function stateOf(c: ContainerRecord): string {
  return isRunning(c) ? "running" : c.state === "created" ? "created" : "exited";
}

/** An image name as the store writes it (docker.io/library/x:latest), or the text as given if it is not one. */
function normalized(name: string): string {
  try {
    return parseReference(name).full;
  } catch (e) {
    if (e instanceof ImageReferenceError) return name; // an id or a prefix of one: compared as given
    throw e;
  }
}

function matchOne(key: Key, value: string, c: ContainerRecord): boolean {
  switch (key) {
    case "id":
      return c.id.startsWith(value);
    case "name": {
      let re: RegExp;
      try {
        re = new RegExp(value);
      } catch (e) {
        throw new UserError(`invalid filter 'name=${value.slice(0, 80)}': ${e instanceof Error ? e.message : String(e)}`);
      }
      return re.test(`/${c.name}`) || re.test(c.name);
    }
    case "status":
      return stateOf(c) === value;
    case "exited":
      return stateOf(c) === "exited" && String(c.exitCode ?? 0) === value;
    case "label": {
      const eq = value.indexOf("=");
      const labels = c.config.Labels ?? {};
      return eq < 0 ? value in labels : labels[value.slice(0, eq)] === value.slice(eq + 1);
    }
    case "ancestor": {
      const hex = value.replace(/^sha256:/, "");
      return normalized(c.image) === normalized(value) || (/^[0-9a-f]{4,64}$/.test(hex) && c.imageId.slice(7).startsWith(hex));
    }
  }
}

export function parsePsFilters(filters: string[]): PsFilter {
  const byKey = new Map<Key, string[]>();
  for (const f of filters) {
    const eq = f.indexOf("=");
    const key = (eq < 0 ? f : f.slice(0, eq)) as Key;
    const value = eq < 0 ? "" : f.slice(eq + 1);
    if (eq < 0 || !KEYS.includes(key)) throw new UserError(`invalid filter '${f.slice(0, 80)}' (supported: ${KEYS.join(", ")})`);
    if (key === "status" && !STATUSES.has(value)) throw new UserError(`invalid filter 'status=${value.slice(0, 40)}': Unrecognised filter value for status`);
    if (key === "exited" && !/^\d+$/.test(value)) throw new UserError(`invalid filter 'exited=${value.slice(0, 40)}': an exit code`);
    byKey.set(key, [...(byKey.get(key) ?? []), value]);
  }
  return {
    impliesAll: byKey.has("status"),
    matches: (c) => [...byKey].every(([key, values]) => values.some((v) => matchOne(key, v, c))),
  };
}
