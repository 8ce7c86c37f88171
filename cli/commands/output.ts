// `build --output` (`-o`), BuildKit's exporters: `type=local,dest=DIR` (the image's files into a
// folder; `-o DIR` for short), `type=tar,dest=FILE` (those files as one tar; `-o -` to standard
// output), `type=docker|oci,dest=FILE` (the image as a docker-archive or OCI layout tar), and
// `type=registry` / `type=image,push=true` (push the -t names, or the `name=` ones, which replace them as
// in buildx). The image is also kept in the store, as every build's is.
import { createWriteStream } from "node:fs";
import { UserError } from "../../common/errors.js";
import { storePaths } from "../../common/storepaths.js";
import type { Digest } from "../../common/digest.js";

export type OutputType = "local" | "tar" | "docker" | "oci" | "registry" | "image";
export interface OutputSpec {
  type: OutputType;
  dest?: string;
  push: boolean;
  /** `name=` of type=image|registry: the image's names, instead of the -t ones (buildx's rule). */
  names?: string[];
}

const TYPES: readonly OutputType[] = ["local", "tar", "docker", "oci", "registry", "image"];

/** Parses one --output value as buildx does (`type=…,dest=…`, or a bare path: local, `-`: tar). */
export function parseOutputSpec(value: string): OutputSpec {
  if (!value.includes("=")) return value === "-" ? { type: "tar", dest: "-", push: false } : { type: "local", dest: value, push: false };
  const fields = new Map<string, string>();
  for (const part of csvFields(value)) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw new UserError(`invalid --output "${value.slice(0, 200)}": expected KEY=VALUE fields, got "${part.slice(0, 60)}"`);
    fields.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  const type = fields.get("type") ?? "local";
  if (!(TYPES as readonly string[]).includes(type)) {
    throw new UserError(`invalid --output "${value.slice(0, 200)}": unknown type "${type.slice(0, 40)}" (one of ${TYPES.join(", ")})`);
  }
  const dest = fields.get("dest");
  const name = fields.get("name");
  const names = name?.split(",").map((n) => n.trim()).filter((n) => n !== "");
  const spec: OutputSpec = {
    type: type as OutputType,
    push: type === "registry" || fields.get("push") === "true",
    ...(dest !== undefined ? { dest } : {}),
    ...(names !== undefined && names.length > 0 && (type === "image" || type === "registry") ? { names } : {}),
  };
  if ((spec.type === "local" || spec.type === "tar") && dest === undefined) {
    throw new UserError(`invalid --output "${value.slice(0, 200)}": type=${spec.type} needs dest=`);
  }
  return spec;
}

/** The fields of a CSV line as buildx reads --output: a field in double quotes may hold commas (`"name=a,b"`). */
function csvFields(line: string): string[] {
  const out: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (c === '"') {
      if (quoted && line[i + 1] === '"') {
        field += '"';
        i++;
      } else quoted = !quoted;
    } else if (c === "," && !quoted) {
      out.push(field);
      field = "";
    } else field += c;
  }
  if (quoted) throw new UserError(`invalid --output "${line.slice(0, 200)}": an unclosed quote`);
  out.push(field);
  return out;
}

export interface BuiltImage { imageId: Digest; diffIds: readonly Digest[]; /** The -t names: an archive carries them. */ tags: string[] }

/** Writes the built image where the spec says (pushing is the caller's, with the build's -t names). */
export async function writeOutput(root: string, spec: OutputSpec, image: BuiltImage): Promise<void> {
  const paths = storePaths(root);
  const { withSharedLock } = await import("../../common/lock.js");
  // Under the GC lock's shared side, as a build: a prune cannot take the snapshots being read.
  await withSharedLock(paths.gcLock, async () => {
    switch (spec.type) {
      case "local": {
        const { exportRootfsDir } = await import("../../runtime/rootfsexport.js");
        await exportRootfsDir(paths, image.diffIds, spec.dest as string);
        return;
      }
      case "tar": {
        const { exportRootfsTar } = await import("../../runtime/rootfsexport.js");
        const out = spec.dest === "-" ? process.stdout : createWriteStream(spec.dest as string);
        const done = spec.dest === "-" ? Promise.resolve() : new Promise<void>((ok, fail) => out.on("close", ok).on("error", fail));
        await exportRootfsTar(paths, image.diffIds, out);
        await done;
        return;
      }
      case "docker":
      case "oci": {
        if (spec.dest === undefined) return; // no file asked for: the image is in the store, as with type=image
        const { ContentStore } = await import("../../image/store.js");
        const { saveArchiveToStream, saveDockerArchive, saveOciArchive } = await import("../../image/archive/index.js");
        const store = await ContentStore.open(paths);
        const names = image.tags.length > 0 ? image.tags : [image.imageId];
        if (spec.dest === "-") await saveArchiveToStream(store, names, process.stdout, spec.type === "docker");
        else await (spec.type === "oci" ? saveOciArchive : saveDockerArchive)(store, names, spec.dest);
        return;
      }
      case "registry":
      case "image":
        return;
    }
  });
}
