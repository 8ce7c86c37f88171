// `--cache-to` / `--cache-from` values, as BuildKit writes them: `type=registry,ref=REG/REPO:cache,mode=max`,
// `type=local,dest=DIR` (export) or `type=local,src=DIR` (import). A bare reference means type=registry.
import { resolve } from "node:path";
import { UserError } from "../../common/errors.js";
import { parseReference, type ImageRef } from "../../image/reference.js";

export type CacheMode = "min" | "max";

export type CacheSpec =
  | { type: "registry"; ref: ImageRef; mode: CacheMode }
  | { type: "local"; dir: string; tag: string; mode: CacheMode };

const KEYS: Record<"to" | "from", Record<"registry" | "local", string[]>> = {
  to: { registry: ["type", "ref", "mode"], local: ["type", "dest", "tag", "mode"] },
  from: { registry: ["type", "ref"], local: ["type", "src", "tag"] },
};

export function parseCacheSpec(text: string, direction: "to" | "from"): CacheSpec {
  const flag = `--cache-${direction}`;
  const bad = (detail: string): UserError => new UserError(`invalid ${flag} "${text}": ${detail}`);
  const fields = new Map<string, string>();
  if (!text.includes("=")) fields.set("type", "registry").set("ref", text);
  else {
    for (const part of text.split(",")) {
      const eq = part.indexOf("=");
      if (eq <= 0) throw bad(`expected key=value, got "${part}"`);
      const k = part.slice(0, eq).trim().toLowerCase();
      if (fields.has(k)) throw bad(`${k} is given twice`);
      fields.set(k, part.slice(eq + 1));
    }
  }
  const type = fields.get("type");
  if (type === undefined) throw bad("type is missing (type=registry or type=local)");
  if (type !== "registry" && type !== "local") throw bad(`unknown cache type "${type}" (expected registry or local)`);
  const allowed = KEYS[direction][type];
  for (const k of fields.keys()) {
    if (!allowed.includes(k)) throw bad(`unknown key "${k}" for type=${type} (expected ${allowed.join(", ")})`);
  }
  const modeText = fields.get("mode") ?? "min";
  if (modeText !== "min" && modeText !== "max") throw bad(`mode must be min or max, not "${modeText}"`);
  const mode: CacheMode = modeText;
  if (type === "registry") {
    const ref = fields.get("ref");
    if (!ref) throw bad("ref is missing (ref=REGISTRY/REPOSITORY:TAG)");
    let parsed: ImageRef;
    try {
      parsed = parseReference(ref);
    } catch (e) {
      if (e instanceof UserError) throw bad(e.message);
      throw e;
    }
    if (direction === "to" && parsed.digest !== undefined) throw bad("ref must name a tag, not a digest");
    return { type, ref: parsed, mode };
  }
  const dirKey = direction === "to" ? "dest" : "src";
  const dir = fields.get(dirKey);
  if (!dir) throw bad(`${dirKey} is missing (${dirKey}=DIR)`);
  const tag = fields.get("tag") ?? "latest";
  if (!/^[\w][\w.-]{0,127}$/.test(tag)) throw bad(`invalid tag "${tag}"`);
  return { type, dir: resolve(dir), tag, mode };
}
