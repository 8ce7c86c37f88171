// `tsbuild diff`, `tsbuild export` and `tsbuild container inspect`: a container's writable layer, its
// root filesystem as a tar, and its record, as Docker prints them.
import { createWriteStream } from "node:fs";
import { UserError } from "../../common/errors.js";
import { storePaths } from "../../common/storepaths.js";
import { findContainer, isRunning, type ContainerRecord } from "../../runtime/containers.js";
import { renderTemplate } from "../template.js";

export async function runDiff(root: string, container: string): Promise<void> {
  const paths = storePaths(root);
  const { containerChanges } = await import("../../runtime/containerfs.js");
  const changes = await containerChanges(paths, await findContainer(paths, container));
  process.stdout.write(changes.map((c) => `${c.kind} ${c.path}\n`).join(""));
}

export async function runExport(root: string, container: string, opts: { output?: string }): Promise<void> {
  const paths = storePaths(root);
  const rec = await findContainer(paths, container);
  const { exportContainer } = await import("../../runtime/containerfs.js");
  if (opts.output === undefined || opts.output === "-") {
    if (process.stdout.isTTY) throw new UserError("cowardly refusing to export to a terminal: use -o FILE or redirect standard output");
    await exportContainer(paths, rec, process.stdout);
    return;
  }
  const out = createWriteStream(opts.output);
  const closed = new Promise<void>((ok, fail) => out.on("close", ok).on("error", fail));
  await exportContainer(paths, rec, out);
  await closed;
}

/** The fields of `docker container inspect` a script reads. */
function inspectObject(c: ContainerRecord): Record<string, unknown> {
  const running = isRunning(c);
  return {
    Id: c.id,
    Created: c.created,
    Path: c.path,
    Args: c.args,
    State: {
      Status: running ? "running" : c.state === "created" ? "created" : "exited",
      Running: running,
      Paused: false,
      Pid: running ? (c.pid ?? 0) : 0,
      ExitCode: c.exitCode ?? 0,
      StartedAt: c.startedAt ?? "0001-01-01T00:00:00Z",
      FinishedAt: c.finishedAt ?? "0001-01-01T00:00:00Z",
    },
    Image: c.imageId,
    Name: `/${c.name}`,
    Config: { ...c.config, Tty: c.tty === true, Image: c.image },
  };
}

export async function runContainerInspect(root: string, names: string[], opts: { format?: string }): Promise<void> {
  const paths = storePaths(root);
  const out: Record<string, unknown>[] = [];
  for (const n of names) out.push(inspectObject(await findContainer(paths, n)));
  if (opts.format) for (const o of out) process.stdout.write(`${renderTemplate(opts.format, o)}\n`);
  else process.stdout.write(`${JSON.stringify(out, null, 4)}\n`);
}
