// `tsbuild build`: parses the flags, picks the progress renderer, runs the builder, writes the report.
import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { UserError, errnoCode, errorMessage } from "../../common/errors.js";
import type { BuildEvent } from "../../builder/events.js";
import { PlainProgress } from "../progress/plain.js";
import { JsonProgress } from "../progress/json.js";
import { ReportCollector, cacheSummaryLine } from "../report.js";
import { traceMark } from "../../common/trace.js";
import type { RegistryOptions } from "../../image/registry/api.js";
import { formatPlatform, parsePlatform } from "../../image/registry/platform.js";
import type { PullResult } from "../../image/registry/pull.js";
import { layerLines, pullHeader, pullSummary } from "./pull.js";
import { readSecrets } from "../secrets.js";
import { PlanCollector } from "../plan.js";
import { isRemoteContext, readRemoteContext, readStdinInputs, type StdinInputs } from "../stdincontext.js";
import { parseAllow, sandboxOptions } from "../sandboxflags.js";
import type { NamedContext } from "../../builder/namedcontexts.js";
import type { BuildContexts } from "../buildcontexts.js";
import { realpathSync, statSync } from "node:fs";
import { storePaths } from "../../common/storepaths.js";
import { normalizeReference } from "../../image/reference.js";
import type { BuildOutcome } from "../../builder/build.js";
import type { CacheSpec } from "../../cache/remote/spec.js";
import type { Digest } from "../../common/digest.js";
import { parseOutputSpec, writeOutput, type OutputSpec } from "./output.js";
import { launched } from "../uptodate/launch.js";
import { UpToDateRecorder, eligible } from "../uptodate/record.js";

interface BuildFlags {
  tag: string[];
  file?: string;
  buildArg: string[];
  target?: string;
  network: string;
  label: string[];
  secret?: string[];
  progress: "auto" | "tty" | "plain" | "json";
  report?: string;
  reportHtml?: string;
  cache: boolean;
  cacheFrom: string[];
  cacheTo: string[];
  pull?: boolean;
  push?: boolean;
  platform?: string;
  quiet?: boolean;
  iidfile?: string;
  output: string[];
  addHost?: string[];
  shmSize?: string;
  ulimit?: string[];
  allow?: string[];
  metadataFile?: string;
  buildContext?: string[];
  ssh?: string[];
  /** `tsbuild plan`: walk the build without running it, print the plan (its --format). */
  plan?: { format?: string };
  /** --no-cache-filter (commander names it after the flag without its `no-`). */
  cacheFilter?: string[];
}

/**
 * `--ssh default` (the agent of SSH_AUTH_SOCK) or `--ssh ID=SOCKET`: agent sockets for RUN
 * --mount=type=ssh. A key file is refused: tsbuild forwards an agent, it does not run one.
 */
function parseSshFlags(values: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const v of values) {
    const eq = v.indexOf("=");
    const id = eq < 0 ? v : v.slice(0, eq);
    const path = eq < 0 ? process.env.SSH_AUTH_SOCK : v.slice(eq + 1).split(",")[0];
    if (eq < 0 && id !== "" && (path === undefined || path === "")) {
      throw new UserError(`--ssh ${id.slice(0, 100)}: SSH_AUTH_SOCK is not set: start ssh-agent and add your key (ssh-add), or give --ssh ${id.slice(0, 100)}=SOCKET`);
    }
    if (id === "" || path === undefined || path === "") throw new UserError(`invalid --ssh "${v.slice(0, 200)}": expected default or ID=SOCKET`);
    const st = statSync(path, { throwIfNoEntry: false });
    if (st === undefined) throw new UserError(`--ssh ${id}: ${path.slice(0, 200)}: no such socket`);
    if (!st.isSocket()) throw new UserError(`--ssh ${id}: ${path.slice(0, 200)} is not an agent socket: load the key into ssh-agent (ssh-add) and give its socket`);
    out.set(id, resolve(path));
  }
  return out;
}

/** The agent of `--ssh default`, for git's ssh remotes (the build context, named contexts). */
function sshAccess(values: string[] | undefined): { sshAuthSock?: string } {
  const sock = values && values.length > 0 ? parseSshFlags(values).get("default") : undefined;
  return sock !== undefined ? { sshAuthSock: sock } : {};
}

function keyValues(list: string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf("=");
    if (eq <= 0) {
      // docker: `--build-arg NAME` takes the value from the environment
      if (flag === "--build-arg" && eq === -1 && item !== "") {
        const v = process.env[item];
        if (v !== undefined) out[item] = v;
        continue;
      }
      throw new UserError(`invalid ${flag} "${item}": expected KEY=VALUE`);
    }
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/** `--platform linux/amd64,linux/arm64`: each once, in the order given. */
function parsePlatforms(value: string): ReturnType<typeof parsePlatform>[] {
  const out = new Map<string, ReturnType<typeof parsePlatform>>();
  for (const item of value.split(",")) {
    const p = parsePlatform(item);
    out.set(formatPlatform(p), p);
  }
  return [...out.values()];
}

function realContextDir(dir: string): string {
  try {
    return realpathSync(dir);
  } catch (e) {
    if (errnoCode(e) === "ENOENT" || errnoCode(e) === "ENOTDIR") return dir;
    throw e;
  }
}

/** What `docker buildx build --metadata-file` writes for an image export (the keys scripts read). */
function buildMetadata(outcome: BuildOutcome, tags: string[]): Record<string, unknown> {
  return {
    "containerimage.config.digest": outcome.imageId,
    "containerimage.digest": (outcome.index ?? outcome.manifestDescriptor).digest,
    "containerimage.descriptor": { mediaType: (outcome.index ?? outcome.manifestDescriptor).mediaType, digest: (outcome.index ?? outcome.manifestDescriptor).digest, size: (outcome.index ?? outcome.manifestDescriptor).size },
    ...(tags.length > 0 ? { "image.name": tags.map(normalizeReference).join(",") } : {}),
  };
}

export async function runBuild(root: string, context: string, raw: Record<string, unknown>, registry: RegistryOptions = { storeRoot: root }): Promise<void> {
  const flags = raw as unknown as BuildFlags;
  if (flags.push && flags.tag.length === 0) throw new UserError("--push needs at least one -t NAME:TAG to push");
  // a plan runs nothing, so there is no build report to write (its own --format json has the steps' shape)
  if (flags.plan && (flags.report || flags.reportHtml)) throw new UserError(`plan writes no build report: use plan --format json, or ${flags.reportHtml ? "build --report-html" : "build --report"} for what a build did`);
  const platforms = flags.platform !== undefined ? parsePlatforms(flags.platform) : [];
  const platform = platforms.length === 1 ? platforms[0] : undefined;
  if ((flags.output ?? []).length > 1) throw new UserError("only one --output is supported");
  const output = flags.output?.[0] !== undefined ? parseOutputSpec(flags.output[0]) : undefined;
  // -o type=image,name=… names the image instead of -t (buildx sets name from -t only when it is absent)
  if (output?.names !== undefined) flags.tag = output.names;
  if (platforms.length > 1 && output !== undefined && output.type !== "image" && output.type !== "registry") {
    throw new UserError(`--output type=${output.type} with ${platforms.length} platforms: tsbuild writes a multi-platform build only as an image index (in the store, or pushed)`);
  }
  if (output?.push && flags.tag.length === 0) throw new UserError(`--output type=${output.type} pushes the -t names: give at least one -t NAME:TAG (or name=NAME in --output)`);
  traceMark("build command");
  const builder = await import("../../builder/build.js");
  traceMark("builder loaded");
  const { parseCacheSpec } = await import("../../cache/remote/spec.js");
  const cacheFrom = (flags.cacheFrom ?? []).map((s) => parseCacheSpec(s, "from"));
  const cacheTo = (flags.cacheTo ?? []).map((s) => parseCacheSpec(s, "to"));
  const secrets = await readSecrets(flags.secret ?? []);
  const stdin = isRemoteContext(context)
    ? await readRemoteContext(storePaths(root), context, sshAccess(flags.ssh))
    : context === "-" || flags.file === "-"
      ? await readStdinInputs(storePaths(root), { contextIsStdin: context === "-", dockerfileIsStdin: flags.file === "-" })
      : undefined;
  let named: BuildContexts | undefined;
  try {
    if (flags.buildContext && flags.buildContext.length > 0) {
      const { readBuildContexts } = await import("../buildcontexts.js");
      named = await readBuildContexts(storePaths(root), flags.buildContext, flags.ssh && flags.ssh.length > 0 ? parseSshFlags(flags.ssh) : undefined);
    }
    const run = (): Promise<void> => buildWith(root, stdin, context, { ...flags, push: flags.push === true || output?.push === true }, registry, secrets, platform, platforms, cacheFrom, cacheTo, builder, output, named?.contexts);
    // one lease (common/pins.ts) from the build to the end of its output: what the build pinned (an
    // untagged image among it) stays until --output has written it; a plan pins nothing (it holds the store)
    const { withLease } = await import("../../common/pins.js");
    await (flags.plan ? run() : withLease(storePaths(root), run));
  } finally {
    await named?.cleanup();
    await stdin?.cleanup();
  }
}

async function buildWith(
  root: string,
  stdin: StdinInputs | undefined,
  context: string,
  flags: BuildFlags,
  registry: RegistryOptions,
  secrets: Awaited<ReturnType<typeof readSecrets>>,
  platform: ReturnType<typeof parsePlatform> | undefined,
  platforms: ReturnType<typeof parsePlatform>[],
  cacheFrom: CacheSpec[],
  cacheTo: CacheSpec[],
  { build, planBuild }: typeof import("../../builder/build.js"),
  output: OutputSpec | undefined,
  namedContexts: ReadonlyMap<string, NamedContext> | undefined,
): Promise<void> {
  const sandbox = sandboxOptions(flags);
  // a context given as a link is the folder it leads to (docker build's EvalSymlinks); a missing one fails later, naming it
  const contextDir = stdin?.contextDir ?? realContextDir(resolve(context));
  // -f names a file of the context when the context came as a tar or a repository (docker build's rule).
  const fetched = context === "-" || isRemoteContext(context);
  const dockerfile = stdin?.dockerfile
    ?? (flags.file ? (fetched ? resolve(contextDir, flags.file) : resolve(flags.file)) : resolve(contextDir, "Dockerfile"));
  // A terminal whose size is unknown cannot be redrawn in place: such a build prints plain lines.
  const sized = process.stderr.isTTY && (process.stderr.columns ?? 0) > 0;
  const wanted = flags.progress === "auto" ? (process.stderr.isTTY ? "tty" : "plain") : flags.progress;
  const mode = wanted === "tty" && !sized ? "plain" : wanted;
  const launch = launched();
  const recorder = launch !== undefined && !process.stderr.isTTY && eligible(flags, stdin === undefined && !isRemoteContext(context), mode, flags.quiet === true)
    ? new UpToDateRecorder(launch, root)
    : undefined;
  const err = (line: string): void => {
    recorder?.print(2, `${line}\n`);
    process.stderr.write(`${line}\n`);
  };
  const report = new ReportCollector();
  let render: (e: BuildEvent) => void;
  let finish = (_failed: boolean): void => {};
  const planned = flags.plan ? new PlanCollector() : undefined;
  if (planned) render = (e) => planned.handle(e);
  else if (flags.quiet) render = () => {};
  else if (mode === "json") {
    const p = new JsonProgress((l) => process.stdout.write(`${l}\n`));
    render = (e) => p.handle(e);
  } else if (mode === "tty") {
    const { TtyProgress } = await import("../progress/tty.js");
    const { createLogUpdate } = await import("log-update");
    const p = new TtyProgress(createLogUpdate(process.stderr), err, () => process.stderr.columns ?? 80);
    render = (e) => p.handle(e);
    finish = (failed) => p.finish(failed);
  } else {
    const p = new PlainProgress(err);
    render = (e) => p.handle(e);
  }

  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  let failure: unknown;
  let outcome: BuildOutcome | undefined;
  try {
    const result = await (planned ? planBuild : build)({
      root,
      contextDir,
      dockerfile,
      dockerfileGiven: flags.file !== undefined,
      ...(stdin?.dockerfileName ? { dockerfileName: stdin.dockerfileName } : {}),
      tags: flags.tag,
      buildArgs: keyValues(flags.buildArg, "--build-arg"),
      labels: keyValues(flags.label, "--label"),
      secrets,
      ...(flags.ssh && flags.ssh.length > 0 ? { ssh: parseSshFlags(flags.ssh) } : {}),
      target: flags.target,
      network: flags.network === "none" ? "none" : "host",
      ...(platform ? { platform } : {}),
      ...(platforms.length > 1 ? { platforms } : {}),
      ...(sandbox ? { sandbox } : {}),
      ...(namedContexts ? { namedContexts } : {}),
      allow: parseAllow(flags.allow ?? []),
      noCache: !flags.cache,
      ...(flags.cacheFilter && flags.cacheFilter.length > 0 ? { noCacheStages: flags.cacheFilter.flatMap((v) => v.split(",")).map((v) => v.trim()).filter((v) => v !== "") } : {}),
      cacheFrom,
      cacheTo,
      basePull: {
        always: flags.pull === true,
        registry,
        ...(platform ? { platform } : {}),
        ...(flags.quiet ? {} : {
          onStart: (name: string) => err(pullHeader(name)),
          onEvent: layerLines(err),
          onDone: (r: PullResult) => { for (const l of pullSummary(r)) err(l); },
        }),
      },
      signal: abort.signal,
      onEvent: (e) => {
        report.handle(e);
        recorder?.handle(e);
        render(e);
      },
    });
    outcome = result ?? undefined;
  } catch (e) {
    failure = e;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    finish(failure !== undefined);
  }
  if (flags.report || flags.reportHtml) {
    const r = report.build(dockerfile, contextDir, failure === undefined ? null : errorMessage(failure));
    if (flags.report) await writeFile(flags.report, JSON.stringify(r, null, 2) + "\n");
    if (flags.reportHtml) {
      const { writeReportPage } = await import("./report.js");
      await writeReportPage(flags.reportHtml, r);
    }
  }
  if (planned && failure === undefined) {
    process.stdout.write(flags.plan?.format === "json" ? planned.json() : planned.table());
    return;
  }
  if (failure !== undefined || outcome === undefined) throw failure;
  if (output !== undefined) await writeOutput(root, output, { imageId: outcome.imageId as Digest, diffIds: outcome.diffIds, tags: flags.tag });
  // a multi-platform image is known by its index digest (BuildKit's image id for it)
  const imageId = outcome.index?.digest ?? outcome.imageId;
  if (flags.iidfile) await writeFile(flags.iidfile, imageId);
  if (flags.metadataFile) await writeFile(flags.metadataFile, `${JSON.stringify(buildMetadata(outcome, flags.tag), null, 2)}\n`);
  const { fs, hits } = report.totals();
  if (flags.quiet) {
    recorder?.print(1, `${imageId}\n`);
    process.stdout.write(`${imageId}\n`);
  } else if (mode !== "json") {
    for (const a of report.advice()) err(`hint: ${a.message}`);
    err(cacheSummaryLine(hits, fs));
  }
  await recorder?.finish({ allCached: hits === fs, manifestDigest: outcome.manifestDigest, imageBlobs: outcome.imageBlobs ?? [], tags: flags.tag, contextGiven: resolve(context), contextDir, dockerfile });
  if (flags.push) {
    const { pushWithOutput } = await import("./push.js");
    const { ContentStore } = await import("../../image/store.js");
    const { storePaths } = await import("../../common/storepaths.js");
    const store = await ContentStore.open(storePaths(root));
    for (const tag of flags.tag) await pushWithOutput(store, tag, registry, err, flags.quiet === true);
  }
}
