// The tsbuild command line. Subcommands load their modules lazily: a no-op rebuild's time is mostly
// Node's start-up, so nothing is imported before it is needed.
import { resolve } from "node:path";
import { Command, Option } from "commander";
import { DEFAULT_ROOT } from "../common/storepaths.js";
import { reportFailure } from "./failure.js";
import { registerCacheCommands } from "./cachecmd.js";
import { registerLifecycle } from "./lifecycle.js";
import { sweepBeforeCommand } from "./storesweep.js";
import { traceMark } from "../common/trace.js";
import { UnknownCommandError, withDefaultCommand } from "./commandword.js";
import { setLaunch } from "./uptodate/launch.js";

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export interface GlobalOptions {
  root: string;
}

function rootOf(cmd: Command): string {
  const opts = cmd.optsWithGlobals<{ root?: string }>();
  // absolute: overlay mounts run `mount` in the snapshot folder, where a relative root means nothing
  return resolve(opts.root ?? process.env.TSBUILD_ROOT ?? DEFAULT_ROOT);
}

/** How to reach registries: credentials under the store, plain HTTP for --insecure-registry hosts. */
function registryOf(cmd: Command): { storeRoot: string; insecureHosts: string[] } {
  const opts = cmd.optsWithGlobals<{ insecureRegistry?: string[] }>();
  return { storeRoot: rootOf(cmd), insecureHosts: opts.insecureRegistry ?? [] };
}

/** The options `build` takes (and `plan`, which walks a build without running it). */
function addBuildOptions(cmd: Command): void {
  cmd
    .option("-t, --tag <name>", "name and optionally tag (name:tag); repeatable", collect, [])
    .option("-f, --file <path>", "Dockerfile (default: CONTEXT/Dockerfile); - reads it from standard input")
    .option("--build-arg <key=value>", "set a build argument; repeatable", collect, [])
    .option("--target <stage>", "build this stage and what it needs")
    .option("--build-context <name=value>", "a named context for FROM NAME / COPY --from=NAME: a folder, docker-image://REF, a git URL or an http(s) URL (one file); repeatable", collect, [])
    .addOption(new Option("--network <mode>", "network for RUN steps").choices(["host", "none", "default"]).default("host"))
    .option("--add-host <host:ip>", "add a line to /etc/hosts of RUN steps; repeatable", collect, [])
    .option("--shm-size <bytes>", "size of /dev/shm of RUN steps (e.g. 128m; default 64m)")
    .option("--ulimit <name=soft[:hard]>", "a resource limit of RUN steps (e.g. nofile=1024:2048); repeatable", collect, [])
    .option("--allow <entitlement>", "grant an entitlement: security.insecure (RUN --security=insecure), network.host; repeatable", collect, [])
    .option("--label <key=value>", "set a label on the image; repeatable", collect, [])
    .option("--ssh <default|id=socket>", "an SSH agent socket for RUN --mount=type=ssh (default: SSH_AUTH_SOCK's); repeatable", collect, [])
    .option("--secret <id=NAME,src=FILE>", "a secret for RUN --mount=type=secret (env=VAR takes it from the environment); repeatable", collect, [])
    .addOption(new Option("--progress <mode>", "progress output").choices(["auto", "tty", "plain", "json"]).default("auto"))
    .option("--report <file>", "write a JSON report of every step (cached or not, and why)")
    .option("--report-html <file>", "write the report as one self-contained HTML page: the stage graph, cached and rebuilt steps, the chain of misses")
    .option("--no-cache", "build every step; refresh the cache")
    .option("--no-cache-filter <stages>", "build these stages (AS names, comma-separated or repeated) without the cache", collect, [])
    .option("--cache-from <spec>", "shared cache to take steps from: type=registry,ref=REG/REPO:TAG or type=local,src=DIR; repeatable", collect, [])
    .option("--cache-to <spec>", "export this build's cache: type=registry,ref=REG/REPO:TAG[,mode=min|max] or type=local,dest=DIR[,mode=…]; repeatable", collect, [])
    .option("--pull", "always look for a newer version of the base images on their registries")
    .option("--push", "push every -t tag after a successful build")
    .option("--platform <os/arch>", "the platform to build for (default: this machine's); another one runs RUN steps through a binfmt_misc emulator (qemu-user-static)")
    .option("-q, --quiet", "print only the image id")
    .option("-o, --output <spec>", "also export the result: type=local,dest=DIR (or just DIR), type=tar,dest=FILE (- for stdout), type=docker|oci,dest=FILE, type=registry", collect, [])
    .option("--iidfile <file>", "write the image ID to the file")
    .option("--metadata-file <file>", "write the build result (image digests and names) to the file, as JSON");
}

export function makeProgram(): Command {
  const program = new Command("tsbuild")
    .description("A daemonless Dockerfile builder with a layer cache")
    .version("0.1.0")
    .option("--root <dir>", `store location (env TSBUILD_ROOT, default ${DEFAULT_ROOT})`)
    .option("--insecure-registry <host>", "reach this registry over plain HTTP (localhost and 127.0.0.1 always are); repeatable", collect, [])
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .exitOverride();

  const buildCommand = program
    .command("build")
    .description("Build an image from a Dockerfile (`tsbuild -t app:1.0 .` is the same as `tsbuild build -t app:1.0 .`)")
    .argument("<context>", "build context folder, or - for a tar (or a Dockerfile) on standard input")
    .action(async (context: string, opts: Record<string, unknown>, cmd: Command) => {
      const { runBuild } = await import("./commands/build.js");
      await runBuild(rootOf(cmd), context, opts, registryOf(cmd));
    });
  addBuildOptions(buildCommand);

  const planCommand = program
    .command("plan")
    .description("Say what a build would take from the cache and what it would rebuild, and why, without running it")
    .argument("<context>", "build context folder, as for build")
    .option("--format <format>", "table (default) or json (the build report's step shape)")
    .action(async (context: string, opts: Record<string, unknown>, cmd: Command) => {
      const { runBuild } = await import("./commands/build.js");
      await runBuild(rootOf(cmd), context, { ...opts, plan: { format: opts.format as string | undefined } }, registryOf(cmd));
    });
  addBuildOptions(planCommand);

  program
    .command("report")
    .description("Write the HTML page of a JSON build report saved by `build --report` (what `build --report-html` writes)")
    .argument("<file>", "the JSON report")
    .option("-o, --output <file>", "the HTML file to write (default: standard output)")
    .action(async (file: string, opts: { output?: string }) => {
      const { runReport } = await import("./commands/report.js");
      await runReport(file, opts);
    });

  program
    .command("pull")
    .description("Download an image from a registry (only the layers the store lacks)")
    .argument("<name>", "NAME[:TAG|@DIGEST]")
    .option("--platform <os/arch>", "platform to pull from a multi-platform image (default linux/amd64)")
    .option("--all-platforms", "download every platform's image of a multi-platform image, kept as its index")
    .option("-a, --all-tags", "download every tagged image of the repository")
    .option("-q, --quiet", "print only the image name")
    .action(async (name: string, opts: { platform?: string; quiet?: boolean; allTags?: boolean; allPlatforms?: boolean }, cmd: Command) => {
      const { runPull } = await import("./commands/pull.js");
      await runPull(rootOf(cmd), name, opts, registryOf(cmd));
    });

  program
    .command("push")
    .description("Upload an image to a registry (only the layers it lacks, gzip compressed)")
    .argument("<name>", "NAME[:TAG]")
    .option("-a, --all-tags", "push every tag of the repository the store holds")
    .option("-q, --quiet", "print only the image name")
    .action(async (name: string, opts: { quiet?: boolean; allTags?: boolean }, cmd: Command) => {
      const { runPush } = await import("./commands/push.js");
      await runPush(rootOf(cmd), name, opts, registryOf(cmd));
    });

  program
    .command("manifest")
    .description("Look at manifests on a registry")
    .command("inspect")
    .description("Show an image's manifest or manifest list as the registry has it")
    .argument("<name>", "NAME[:TAG|@DIGEST]")
    .option("-v, --verbose", "one entry per platform, with its descriptor and manifest")
    .option("--insecure", "allow plain HTTP to this registry")
    .action(async (name: string, opts: { verbose?: boolean; insecure?: boolean }, cmd: Command) => {
      const { runManifestInspect } = await import("./commands/manifest.js");
      const registry = registryOf(cmd);
      if (opts.insecure) registry.insecureHosts.push(name.split("/")[0] ?? "");
      await runManifestInspect(name, opts, registry);
    });

  program
    .command("load")
    .description("Load images from a docker-archive tar, an OCI layout tar or an OCI layout folder")
    .option("-i, --input <file>", "archive to read (default: standard input)")
    .option("-q, --quiet", "print nothing but errors")
    .action(async (opts: { input?: string; quiet?: boolean }, cmd: Command) => {
      const { runLoad } = await import("./commands/archive.js");
      await runLoad(rootOf(cmd), opts);
    });

  program
    .command("save")
    .description("Save images to a docker-archive tar (or an OCI layout tar with --format oci)")
    .argument("<names...>", "images to save")
    .option("-o, --output <file>", "file to write (default: standard output, unless it is a terminal)")
    .addOption(new Option("--format <format>", "archive format").choices(["docker", "oci"]).default("docker"))
    .option("--platform <os/arch>", "one platform's image of a multi-platform one (docker format: this machine's by default; oci: the whole index by default)")
    .action(async (names: string[], opts: { output?: string; format: "docker" | "oci"; platform?: string }, cmd: Command) => {
      const { runSave } = await import("./commands/archive.js");
      await runSave(rootOf(cmd), names, opts);
    });

  program
    .command("import")
    .description("Create an image from a root filesystem tar (like docker import); `-` reads standard input")
    .argument("<file>", "rootfs tar (plain or compressed), or -")
    .argument("[name]", "image name")
    .option("-c, --change <instruction>", "apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, …); repeatable", collect, [])
    .option("-m, --message <text>", "commit message for the history")
    .option("--platform <os/arch>", "the platform of the files (default: this machine's)")
    .action(async (file: string, name: string | undefined, opts: { change: string[]; message?: string; platform?: string }, cmd: Command) => {
      const { runImport } = await import("./commands/archive.js");
      await runImport(rootOf(cmd), file, name, opts);
    });

  program
    .command("images")
    .description("List images")
    .argument("[reference]", "only images matching REPO[:TAG]")
    .option("-a, --all", "show all images")
    .option("-q, --quiet", "only image ids")
    .option("--digests", "show digests")
    .option("--no-trunc", "do not truncate ids")
    .option("-f, --filter <filter>", "dangling=true|false, reference=PATTERN, before=IMAGE, since=IMAGE, label=KEY[=VALUE]; repeatable", collect, [])
    .option("--format <format>", "json, table, 'table TEMPLATE' or a Go template, e.g. '{{.Repository}}:{{.Tag}}'")
    .action(async (reference: string | undefined, opts: Record<string, unknown>, cmd: Command) => {
      const { runImages } = await import("./commands/images.js");
      await runImages(rootOf(cmd), reference, opts);
    });

  program
    .command("inspect")
    .description("Show an image's details as JSON")
    .argument("<names...>", "image names, ids or name@digest")
    .option("-f, --format <template>", "Go-template-like format, e.g. {{.Config.Cmd}}")
    .option("--platform <os/arch>", "which image of a multi-platform one (default: this machine's)")
    .action(async (names: string[], opts: { format?: string; platform?: string }, cmd: Command) => {
      const { runInspect } = await import("./commands/inspect.js");
      await runInspect(rootOf(cmd), names, opts);
    });

  program
    .command("login")
    .description("Log in to a registry (default Docker Hub); credentials are kept in ROOT/auth.json")
    .argument("[registry]", "registry host, e.g. 127.0.0.1:5000")
    .option("-u, --username <user>", "user name")
    .option("-p, --password <password>", "password (prefer --password-stdin)")
    .option("--password-stdin", "read the password from standard input")
    .action(async (registry: string | undefined, opts: { username?: string; password?: string; passwordStdin?: boolean }, cmd: Command) => {
      const { runLogin } = await import("./commands/login.js");
      await runLogin(rootOf(cmd), registry, opts, registryOf(cmd));
    });

  program
    .command("logout")
    .description("Forget the credentials for a registry (default Docker Hub)")
    .argument("[registry]", "registry host")
    .action(async (registry: string | undefined, _opts: unknown, cmd: Command) => {
      const { runLogout } = await import("./commands/login.js");
      await runLogout(rootOf(cmd), registry);
    });

  program
    .command("completion")
    .description("Print a shell completion script: `source <(tsbuild completion bash)`")
    .argument("<shell>", "bash, zsh or fish")
    .action(async (shell: string) => {
      const { completionScript } = await import("./completion.js");
      process.stdout.write(completionScript(makeProgram(), shell));
    });

  registerCacheCommands(program, rootOf);
  registerLifecycle(program, rootOf);
  program.hook("preAction", (_program, action) => sweepBeforeCommand(action, rootOf(action)));
  return program;
}

/** Whether argv runs a build: bin/tsbuild picks its V8 code cache by it. A mistyped command is not one. */
export function runsBuild(argv: string[]): boolean {
  try {
    return withDefaultCommand(argv).includes("build");
  } catch (e) {
    if (e instanceof UnknownCommandError) return false;
    throw e;
  }
}

/** `bundle`: the bundle bin/tsbuild runs (a build that changed nothing records an up-to-date memo for it and argv). */
export async function main(argv: string[], bundle?: string): Promise<void> {
  traceMark("cli loaded");
  if (bundle !== undefined) setLaunch({ argv, bundle });
  const program = makeProgram();
  try {
    await program.parseAsync(withDefaultCommand(argv), { from: "user" });
  } catch (e) {
    process.exitCode = reportFailure(e);
  }
  traceMark("done");
}
