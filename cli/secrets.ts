// `--secret id=NAME[,src=FILE|,env=VAR][,type=file|env]` as docker buildx reads it: without src or
// env, a variable named like the id is used when set, else a file path equal to the id.
import { readFile } from "node:fs/promises";
import { UserError, errnoCode } from "../common/errors.js";

export async function readSecrets(specs: readonly string[]): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const spec of specs) {
    const fields = new Map<string, string>();
    for (const part of spec.split(",")) {
      const eq = part.indexOf("=");
      if (eq <= 0) throw new UserError(`--secret ${spec}: expected key=value fields (id=NAME,src=FILE)`);
      const key = part.slice(0, eq).trim().toLowerCase();
      if (!["id", "src", "source", "env", "type"].includes(key)) throw new UserError(`--secret ${spec}: unexpected key ${key}`);
      fields.set(key === "source" ? "src" : key, part.slice(eq + 1));
    }
    const id = fields.get("id");
    if (id === undefined || id === "") throw new UserError(`--secret ${spec}: id is required`);
    const type = fields.get("type");
    if (type !== undefined && type !== "file" && type !== "env") throw new UserError(`--secret ${spec}: type must be file or env`);
    let env = fields.get("env") ?? (type === "env" ? fields.get("src") ?? id : undefined);
    const src = type === "env" ? undefined : fields.get("src");
    if (env === undefined && src === undefined && type !== "file" && process.env[id] !== undefined) env = id;
    if (env !== undefined) {
      const value = process.env[env];
      if (value === undefined) throw new UserError(`--secret ${spec}: environment variable ${env} is not set`);
      out.set(id, Buffer.from(value));
      continue;
    }
    const file = src ?? id;
    try {
      out.set(id, await readFile(file));
    } catch (e) {
      if (errnoCode(e) === "ENOENT") throw new UserError(`--secret ${spec}: ${file}: no such file`);
      throw e;
    }
  }
  return out;
}
