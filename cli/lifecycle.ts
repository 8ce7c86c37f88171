// The image and container lifecycle subcommands (history, tag, rmi, image prune, system df and prune, run, ps,
// rm, commit, and Docker's `image ls`/`container rm` spellings). Each loads its module lazily.
import type { Command } from "commander";

type RootOf = (cmd: Command) => string;

const ALIASES: ["image" | "container", string, string][] = [
  ["image", "ls", "images"], ["image", "list", "images"], ["image", "rm", "rmi"], ["image", "remove", "rmi"],
  ["image", "inspect", "inspect"], ["image", "history", "history"], ["image", "tag", "tag"],
  ["image", "save", "save"], ["image", "load", "load"], ["image", "import", "import"],
  ["container", "ls", "ps"], ["container", "list", "ps"], ["container", "rm", "rm"], ["container", "run", "run"],
  ["container", "commit", "commit"], ["container", "diff", "diff"], ["container", "export", "export"],
  ["container", "logs", "logs"], ["container", "start", "start"], ["container", "stop", "stop"], ["container", "kill", "kill"], ["container", "exec", "exec"],
];

export function registerLifecycle(program: Command, rootOf: RootOf): void {
  program
    .command("history")
    .description("Show the history of an image")
    .argument("<image>", "image name or id")
    .option("--no-trunc", "do not truncate output")
    .option("-q, --quiet", "only show image ids")
    .option("-H, --human [bool]", "print sizes and dates in human readable format (default true)", (v: string) => v.replace(/^=/, "") !== "false", true)
    .option("--format <format>", "json, table, 'table TEMPLATE' or a Go template, e.g. '{{.ID}} {{.CreatedBy}}'")
    .option("--platform <os/arch>", "which image of a multi-platform one (default: this machine's)")
    .action(async (image: string, opts: { trunc?: boolean; quiet?: boolean; human?: boolean; format?: string; platform?: string }, cmd: Command) => {
      const { runHistory } = await import("./commands/history.js");
      await runHistory(rootOf(cmd), image, opts);
    });

  program
    .command("tag")
    .description("Create a tag TARGET that refers to SOURCE")
    .argument("<source>", "image name or id")
    .argument("<target>", "new name[:tag]")
    .action(async (source: string, target: string, _opts: unknown, cmd: Command) => {
      const { runTag } = await import("./commands/tag.js");
      await runTag(rootOf(cmd), source, target);
    });

  program
    .command("rmi")
    .description("Remove one or more images")
    .argument("<images...>", "image names or ids")
    .option("-f, --force", "force removal of the image")
    .action(async (images: string[], opts: { force?: boolean }, cmd: Command) => {
      const { runRmi } = await import("./commands/rmi.js");
      await runRmi(rootOf(cmd), images, opts);
    });

  const image = program.command("image").description("Manage images");
  image
    .command("prune")
    .description("Remove unused images")
    .option("-a, --all", "remove all unused images, not just dangling ones")
    .option("-f, --force", "do not prompt for confirmation")
    .option("--filter <filter>", "until=DURATION|TIME, label=KEY[=VALUE], label!=KEY[=VALUE]; repeatable", (v: string, p: string[]) => [...p, v], [])
    .action(async (opts: { all?: boolean; force?: boolean; filter?: string[] }, cmd: Command) => {
      const { runImagePrune } = await import("./commands/prune.js");
      await runImagePrune(rootOf(cmd), opts);
    });

  program
    .command("container-supervise", { hidden: true })
    .argument("<id>", "container id")
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const { runSupervise } = await import("./commands/run.js");
      await runSupervise(rootOf(cmd), id);
    });

  program
    .command("logs")
    .description("Show the output of a container run with -d")
    .argument("<container>", "container name or id")
    .option("-f, --follow", "follow the output while the container runs")
    .action(async (container: string, opts: { follow?: boolean }, cmd: Command) => {
      const { runLogs } = await import("./commands/containerctl.js");
      await runLogs(rootOf(cmd), container, opts);
    });

  program
    .command("start")
    .description("Start stopped containers again, in the background (their output: tsbuild logs)")
    .argument("<containers...>", "container names or ids")
    .action(async (containers: string[], _opts: unknown, cmd: Command) => {
      const { runStart } = await import("./commands/run.js");
      await runStart(rootOf(cmd), containers);
    });

  program
    .command("stop")
    .description("Stop running containers (SIGTERM, then SIGKILL after a grace period)")
    .argument("<containers...>", "container names or ids")
    .option("-t, --time <seconds>", "seconds to wait before killing", "10")
    .action(async (containers: string[], opts: { time?: string }, cmd: Command) => {
      const { runStop } = await import("./commands/containerctl.js");
      await runStop(rootOf(cmd), containers, opts);
    });

  program
    .command("kill")
    .description("Send a signal to running containers (default SIGKILL)")
    .argument("<containers...>", "container names or ids")
    .option("-s, --signal <signal>", "signal to send", "KILL")
    .action(async (containers: string[], opts: { signal?: string }, cmd: Command) => {
      const { runKill } = await import("./commands/containerctl.js");
      await runKill(rootOf(cmd), containers, opts);
    });

  program
    .command("exec")
    .description("Run a command in a running container")
    .usage("[-i] [-w DIR] [-e K=V] CONTAINER COMMAND [ARG...]")
    .argument("[args...]", "options, then the container, then the command")
    .allowUnknownOption()
    .helpOption(false)
    .action(async (args: string[], _opts: unknown, cmd: Command) => {
      const { runExec } = await import("./commands/containerctl.js");
      await runExec(rootOf(cmd), args);
    });

  program
    .command("layers")
    .description("Where an image's bytes go: per layer its size, files added/changed/deleted and bytes wasted; --against compares two images")
    .argument("<image>", "image name or id")
    .option("--against <image>", "show which layers and files differ from this image")
    .option("--format <format>", "json")
    .option("--no-trunc", "do not truncate the CREATED BY column")
    .action(async (image: string, opts: { against?: string; format?: string; trunc?: boolean }, cmd: Command) => {
      const { runLayers } = await import("./commands/layers.js");
      await runLayers(rootOf(cmd), image, opts);
    });

  program
    .command("diff")
    .description("Show what a container changed against its image (A added, C changed, D deleted)")
    .argument("<container>", "container name or id")
    .action(async (container: string, _opts: unknown, cmd: Command) => {
      const { runDiff } = await import("./commands/containerfiles.js");
      await runDiff(rootOf(cmd), container);
    });

  program
    .command("export")
    .description("Write a stopped container's root filesystem as a tar")
    .argument("<container>", "container name or id")
    .option("-o, --output <file>", "file to write (default: standard output, unless it is a terminal)")
    .action(async (container: string, opts: { output?: string }, cmd: Command) => {
      const { runExport } = await import("./commands/containerfiles.js");
      await runExport(rootOf(cmd), container, opts);
    });

  // Docker's management-command spellings (`docker image ls`, `docker container rm`): each forwards
  // its arguments, untouched, to the top-level command.
  const container = program.command("container").description("Manage containers");
  container
    .command("inspect")
    .description("Show containers' details as JSON")
    .argument("<containers...>", "container names or ids")
    .option("-f, --format <template>", "Go template, e.g. {{.State.ExitCode}}")
    .action(async (names: string[], opts: { format?: string }, cmd: Command) => {
      const { runContainerInspect } = await import("./commands/containerfiles.js");
      await runContainerInspect(rootOf(cmd), names, opts);
    });
  for (const [parent, alias, target] of ALIASES) {
    (parent === "image" ? image : container)
      .command(alias)
      .description(`Same as \`tsbuild ${target}\``)
      .argument("[args...]", `arguments of \`tsbuild ${target}\``)
      .allowUnknownOption()
      .helpOption(false)
      .action(async (args: string[], _opts: unknown, cmd: Command) => {
        const { makeProgram } = await import("./main.js");
        await makeProgram().parseAsync(["--root", rootOf(cmd), target, ...args], { from: "user" });
      });
  }

  const system = program.command("system").description("Manage tsbuild's store");
  system
    .command("check")
    .description("Verify the store (blobs, images, snapshots, cache entries, leftovers of killed processes); exit 1 on problems")
    .option("--repair", "remove what is safe to remove, and say what")
    .action(async (opts: { repair?: boolean }, cmd: Command) => {
      const { runSystemCheck } = await import("./commands/check.js");
      await runSystemCheck(rootOf(cmd), opts);
    });
  system
    .command("prune")
    .description("Remove stopped containers, dangling images and unused build cache, then what nothing needs")
    .option("-a, --all", "remove all unused images and all build cache, not just dangling ones")
    .option("-f, --force", "do not prompt for confirmation")
    .action(async (opts: { all?: boolean; force?: boolean }, cmd: Command) => {
      const { runSystemPrune } = await import("./commands/systemprune.js");
      await runSystemPrune(rootOf(cmd), opts);
    });
  system
    .command("df")
    .description("Show disk usage")
    .option("-v, --verbose", "show detailed information on space usage")
    .option("--format <format>", "json, table, 'table TEMPLATE' or a Go template, e.g. '{{.Type}} {{.Size}}'")
    .action(async (opts: { verbose?: boolean; format?: string }, cmd: Command) => {
      const { runSystemDf } = await import("./commands/df.js");
      await runSystemDf(rootOf(cmd), opts);
    });

  // Options after IMAGE belong to the command (`run img sh -c x`), so run parses its own options
  // (runargs.ts) instead of commander, which would take `-c`/`-w` anywhere on the line.
  program
    .command("run")
    .description("Run a command in a new container")
    .usage("[--rm] [--name N] [-e K=V] [-w DIR] [-u USER] [--entrypoint E] [--network host|none] IMAGE [COMMAND [ARG...]]")
    .argument("[args...]", "options, then the image, then the command and its arguments")
    .allowUnknownOption()
    .helpOption(false)
    .action(async (args: string[], _opts: unknown, cmd: Command) => {
      const { runRun } = await import("./commands/run.js");
      const { parseRunArgs } = await import("./commands/runargs.js");
      const parsed = parseRunArgs(args);
      if (parsed === "help") {
        cmd.outputHelp();
        return;
      }
      await runRun(rootOf(cmd), parsed.image, parsed.command, parsed.flags);
    });

  program
    .command("ps")
    .description("List containers")
    .option("-a, --all", "show all containers (default shows just running)")
    .option("-q, --quiet", "only display container ids")
    .option("--no-trunc", "do not truncate output")
    .option("--format <format>", "json, table, 'table TEMPLATE' or a Go template, e.g. '{{.Names}} {{.Status}}'")
    .option("-f, --filter <filter>", "id=, name=REGEX, status=running|exited|created, exited=CODE, label=KEY[=VALUE], ancestor=IMAGE; repeatable", (v: string, p: string[]) => [...p, v], [])
    .action(async (opts: { all?: boolean; quiet?: boolean; trunc?: boolean; format?: string; filter?: string[] }, cmd: Command) => {
      const { runPs } = await import("./commands/ps.js");
      await runPs(rootOf(cmd), opts);
    });

  program
    .command("rm")
    .description("Remove one or more containers")
    .argument("<containers...>", "container names or ids")
    .option("-f, --force", "remove even if it is marked running")
    .action(async (containers: string[], opts: { force?: boolean }, cmd: Command) => {
      const { runRm } = await import("./commands/rm.js");
      await runRm(rootOf(cmd), containers, opts);
    });

  program
    .command("commit")
    .description("Create a new image from a container's changes")
    .argument("<container>", "container name or id")
    .argument("[name]", "repository[:tag]")
    .option("-m, --message <text>", "commit message")
    .option("-a, --author <name>", "author")
    .option("-c, --change <instruction>", "apply a Dockerfile instruction to the image's config (CMD, ENV, LABEL…); repeatable", (v: string, p: string[]) => [...p, v], [])
    .action(async (container: string, name: string | undefined, opts: { message?: string; author?: string; change?: string[] }, cmd: Command) => {
      const { runCommit } = await import("./commands/commit.js");
      await runCommit(rootOf(cmd), container, name, opts);
    });
}
