// `tsbuild inspect`: Docker-shaped JSON for images, or a `{{.Config.Cmd}}` style template.
import { UserError } from "../../common/errors.js";
import { storePaths } from "../../common/storepaths.js";
import { ContentStore, type ImageRecord } from "../../image/store.js";
import { parseReference } from "../../image/reference.js";
import { imageSize } from "./images.js";
import { renderTemplate } from "../template.js";

export function dockerInspect(rec: ImageRecord): Record<string, unknown> {
  const repoTags = rec.refs.map((r) => parseReference(r).familiar);
  const repoDigests = [...new Set(rec.refs.map((r) => `${parseReference(r).familiar.replace(/:[^:/]*$/, "")}@${rec.manifestDigest}`))];
  return {
    Id: rec.configDigest,
    RepoTags: repoTags,
    RepoDigests: repoDigests,
    Parent: "",
    Comment: rec.config.history?.[rec.config.history.length - 1]?.comment ?? "",
    Created: rec.config.created ?? "",
    DockerVersion: "",
    Author: rec.config.author ?? "",
    Config: rec.config.config ?? {},
    Architecture: rec.config.architecture,
    ...(rec.config.variant ? { Variant: rec.config.variant } : {}),
    Os: rec.config.os,
    Size: imageSize(rec),
    RootFS: { Type: "layers", Layers: rec.config.rootfs.diff_ids },
    Metadata: { LastTagTime: "0001-01-01T00:00:00Z" },
  };
}

export async function runInspect(root: string, names: string[], opts: { format?: string }): Promise<void> {
  const store = await ContentStore.open(storePaths(root));
  const out: Record<string, unknown>[] = [];
  const missing: string[] = [];
  for (const name of names) {
    try {
      out.push(dockerInspect(await store.resolveImage(name)));
    } catch (e) {
      if (e instanceof UserError) missing.push(e.message);
      else throw e;
    }
  }
  if (opts.format !== undefined) {
    for (const item of out) process.stdout.write(`${renderTemplate(opts.format, item)}\n`);
  } else {
    process.stdout.write(`${JSON.stringify(out, null, 4)}\n`);
  }
  if (missing.length > 0) throw new UserError(missing.join("; "));
}
