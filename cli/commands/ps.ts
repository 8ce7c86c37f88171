// `tsbuild ps [-a]`: container records as `docker ps` lists them (running ones unless -a).
import { storePaths } from "../../common/storepaths.js";
import { isRunning, listContainers, type ContainerRecord } from "../../runtime/containers.js";
import { table, timeAgo } from "../format.js";
import { ellipsis } from "./history.js";
import { formatList } from "../listformat.js";
import { parsePsFilters } from "./psfilter.js";

export function statusOf(c: ContainerRecord, now = Date.now()): string {
  if (isRunning(c)) return `Up ${timeAgo(c.startedAt, now).replace(/ ago$/, "")}`;
  if (c.state === "created") return "Created";
  return `Exited (${c.exitCode ?? 0}) ${timeAgo(c.finishedAt, now)}`;
}

/** Header names of `docker ps --format 'table …'`. */
const PS_HEADERS: Record<string, string> = { ID: "CONTAINER ID", RunningFor: "CREATED", CreatedAt: "CREATED AT", Names: "NAMES", LocalVolumes: "LOCAL VOLUMES" };

/** Go's time.Time.String() to the second, as `docker ps --format '{{.CreatedAt}}'` prints it. */
function goTime(iso: string | undefined): string {
  const t = iso ? new Date(iso) : undefined;
  return t && !Number.isNaN(t.getTime()) ? `${t.toISOString().slice(0, 19).replace("T", " ")} +0000 UTC` : "";
}

/** The command as the daemon lists it: the path and its arguments, an argument with a space in single quotes. */
function commandOf(c: ContainerRecord): string {
  return [c.path, ...c.args.map((a) => (a.includes(" ") ? `'${a}'` : a))].join(" ");
}

/** A container's labels (its image's) as ps shows them: k=v, comma-separated. */
function labelsOf(c: ContainerRecord): string {
  return Object.entries(c.config.Labels ?? {}).map(([k, v]) => `${k}=${v}`).sort().join(",");
}

export async function runPs(root: string, opts: { all?: boolean; quiet?: boolean; trunc?: boolean; format?: string; filter?: string[] }): Promise<void> {
  const filter = parsePsFilters(opts.filter ?? []);
  const all = await listContainers(storePaths(root));
  const shown = (opts.all || filter.impliesAll ? all : all.filter(isRunning)).filter((c) => filter.matches(c));
  const noTrunc = opts.trunc === false;
  const id = (c: ContainerRecord): string => (noTrunc ? c.id : c.id.slice(0, 12));
  if (opts.quiet) {
    process.stdout.write(shown.map((c) => `${id(c)}\n`).join(""));
    return;
  }
  if (opts.format !== undefined) {
    const objects = shown.map((c) => {
      const command = commandOf(c);
      return {
        Command: JSON.stringify(noTrunc ? command : ellipsis(command, 20)), CreatedAt: goTime(c.created), ID: id(c), Image: c.image,
        Labels: labelsOf(c), LocalVolumes: "0", Mounts: "", Names: c.name, Networks: c.hostConfig?.network ?? "host", Platform: null, Ports: "", RunningFor: timeAgo(c.created),
        Size: "0B", State: isRunning(c) ? "running" : c.state === "created" ? "created" : "exited", Status: statusOf(c),
      };
    });
    const table = "{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
    process.stdout.write(formatList(opts.format, objects, { table, headers: PS_HEADERS }));
    return;
  }
  const rows = shown.map((c) => {
    const command = commandOf(c);
    return [id(c), c.image, JSON.stringify(noTrunc ? command : ellipsis(command, 20)), timeAgo(c.created), statusOf(c), "", c.name];
  });
  process.stdout.write(table(["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"], rows));
}
