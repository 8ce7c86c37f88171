// `tsbuild inspect`: Docker-shaped JSON for images, or a `{{.Config.Cmd}}` style template.
import { UserError } from "../../common/errors.js";
import { storePaths } from "../../common/storepaths.js";
import type { ContainerConfig } from "../../image/config.js";
import { ContentStore, type ImageRecord } from "../../image/store.js";
import { parseReference } from "../../image/reference.js";
import { renderTemplate } from "../template.js";
import { parsePlatform } from "../../image/registry/platform.js";
import { LayerSizes } from "../../cache/layersizes.js";

/**
 * The image config as Docker's API shows it (container.Config): every field present in Go's order,
 * unset lists and maps as null, the omitempty ones only when set.
 */
export function dockerConfig(c: ContainerConfig = {}): Record<string, unknown> {
  const opt = (key: string, v: unknown): Record<string, unknown> => (v === undefined || v === null || v === false ? {} : { [key]: v });
  return {
    Hostname: "",
    Domainname: "",
    User: c.User ?? "",
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    ...opt("ExposedPorts", c.ExposedPorts),
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: c.Env ?? null,
    Cmd: c.Cmd ?? null,
    ...opt("Healthcheck", c.Healthcheck),
    ...opt("ArgsEscaped", c.ArgsEscaped),
    Image: "",
    Volumes: c.Volumes ?? null,
    WorkingDir: c.WorkingDir ?? "",
    Entrypoint: c.Entrypoint ?? null,
    OnBuild: c.OnBuild ?? null,
    Labels: c.Labels ?? null,
    ...opt("StopSignal", c.StopSignal),
    ...opt("Shell", c.Shell),
  };
}

/**
 * `docker image inspect`'s shape. RepoDigests name the local manifest digest (as Docker's containerd
 * image store does; every NAME@DIGEST listed resolves here). Size is the layers' content size.
 */
export function dockerInspect(rec: ImageRecord, size: number): Record<string, unknown> {
  const repoTags = rec.refs.map((r) => parseReference(r).familiar);
  // a multi-platform image is known by its index digest (Docker's containerd image store)
  const digest = rec.index?.descriptor.digest ?? rec.manifestDigest;
  const repoDigests = [...new Set(rec.refs.map((r) => `${parseReference(r).familiar.replace(/:[^:/]*$/, "")}@${digest}`))];
  return {
    // the ID `images` shows: the config's digest, or a multi-platform image's index digest (also with
    // --platform, as Docker's containerd image store gives the image's target), so `rmi <Id>` finds it
    Id: rec.index?.descriptor.digest ?? rec.configDigest,
    RepoTags: repoTags,
    RepoDigests: repoDigests,
    Parent: "",
    Comment: rec.config.history?.[rec.config.history.length - 1]?.comment ?? "",
    Created: rec.config.created ?? "",
    DockerVersion: "",
    Author: rec.config.author ?? "",
    Config: dockerConfig(rec.config.config),
    Architecture: rec.config.architecture,
    ...(rec.config.variant ? { Variant: rec.config.variant } : {}),
    Os: rec.config.os,
    Size: size,
    RootFS: { Type: "layers", Layers: rec.config.rootfs.diff_ids },
    Metadata: { LastTagTime: "0001-01-01T00:00:00Z" },
  };
}

export async function runInspect(root: string, names: string[], opts: { format?: string; platform?: string }): Promise<void> {
  const platform = opts.platform !== undefined ? parsePlatform(opts.platform) : undefined;
  const store = await ContentStore.open(storePaths(root));
  const sizes = new LayerSizes(store);
  const out: Record<string, unknown>[] = [];
  const missing: string[] = [];
  for (const name of names) {
    try {
      const rec = await store.resolveImage(name, platform);
      out.push(dockerInspect(rec, await sizes.ofImage(rec)));
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
