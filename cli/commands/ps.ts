// `tsbuild ps [-a]`: container records as `docker ps` lists them (running ones unless -a).
import { storePaths } from "../../common/storepaths.js";
import { isRunning, listContainers, type ContainerRecord } from "../../runtime/containers.js";
import { table, timeAgo } from "../format.js";
import { ellipsis } from "./history.js";

export function statusOf(c: ContainerRecord, now = Date.now()): string {
  if (isRunning(c)) return `Up ${timeAgo(c.startedAt, now).replace(/ ago$/, "")}`;
  if (c.state === "created") return "Created";
  return `Exited (${c.exitCode ?? 0}) ${timeAgo(c.finishedAt, now)}`;
}

export async function runPs(root: string, opts: { all?: boolean; quiet?: boolean; trunc?: boolean }): Promise<void> {
  const all = await listContainers(storePaths(root));
  const shown = opts.all ? all : all.filter(isRunning);
  const noTrunc = opts.trunc === false;
  const id = (c: ContainerRecord): string => (noTrunc ? c.id : c.id.slice(0, 12));
  if (opts.quiet) {
    process.stdout.write(shown.map((c) => `${id(c)}\n`).join(""));
    return;
  }
  const rows = shown.map((c) => {
    const command = [c.path, ...c.args].join(" ");
    return [id(c), c.image, JSON.stringify(noTrunc ? command : ellipsis(command, 20)), timeAgo(c.created), statusOf(c), "", c.name];
  });
  process.stdout.write(table(["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"], rows));
}
