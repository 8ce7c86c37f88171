// RUN: runs a command in a container over the stage's snapshot chain; its writes become the layer.
import { DockerfileError, RunFailedError } from "../../common/errors.js";
import type { SandboxOptions } from "../../runtime/ocispec.js";
import { runContainer } from "../../runtime/container.js";
import { resolveUser } from "../../runtime/user.js";
import { chompHeredocContent, parseHeredocWord } from "../parser/index.js";
import type { RunInstruction } from "../instructions/index.js";
import { runFilesystemStep, type StepOutcome } from "../fsstep.js";
import type { StageState } from "../state.js";
import type { StepContext } from "./context.js";
import { shebangScript, mountScript, SCRIPT_DIR, type ScriptMount } from "./heredocscript.js";
import { runCreatedBy } from "./history.js";
import { prepareRunMounts, type PreparedMounts } from "./runmounts.js";
import { proxyEnv } from "./proxyargs.js";

const OUTPUT_TAIL = 15;

/**
 * The argv a RUN executes: exec form as is; shell form through SHELL, heredocs handed to the shell,
 * a lone heredoc with a shebang run as a file (heredocscript.ts).
 */
export function runArgv(state: StageState, instr: RunInstruction): string[] {
  const { cmdLine, prependShell, files } = instr.command;
  if (!prependShell) return [...cmdLine];
  const shebang = shebangScript(instr);
  if (shebang) return [...state.shell, `${SCRIPT_DIR}/${shebang.name}`];
  const command = cmdLine.join(" ");
  if (files.length === 0) return [...state.shell, command];
  const only = files.length === 1 ? parseHeredocWord(command.trim()) : undefined;
  if (only && files[0] && only.name === files[0].name) {
    // `RUN <<EOF` alone: the heredoc is the script
    const data = files[0].chomp ? chompHeredocContent(files[0].data) : files[0].data;
    return [...state.shell, data];
  }
  // heredocs inside a shell command: the shell reads them, as BuildKit passes them on
  const script = [command, ...files.map((f) => `${f.data}${f.name}`)].join("\n");
  return [...state.shell, script];
}

/**
 * The process environment: the image's env (where an ARG given a value after an ENV of the name
 * holds the ARG's, state.argsOverEnv), then the other build args with values.
 */
function processEnv(state: StageState): string[] {
  const args = state.argsWithValues();
  const env = state.env.map((kv) => {
    const name = kv.split("=", 1)[0]!;
    return state.argsOverEnv.has(name) && Object.hasOwn(args, name) ? `${name}=${args[name]}` : kv;
  });
  const names = new Set(env.map((kv) => kv.split("=", 1)[0]));
  for (const [k, v] of Object.entries(args)) if (!names.has(k)) env.push(`${k}=${v}`);
  return env;
}

/** The names whose ARG value shadows the image's ENV: part of the key (the env alone cannot tell). */
function shadowedEnv(state: StageState): string[] {
  return state.env.map((kv) => kv.split("=", 1)[0]!).filter((name) => state.argsOverEnv.has(name)).sort();
}

export async function dispatchRun(ctx: StepContext, instr: RunInstruction): Promise<StepOutcome> {
  const { state } = ctx;
  const mounts = instr.mounts.length === 0 ? undefined : await prepareRunMounts(ctx, instr, state.workdir);
  let script: ScriptMount | undefined;
  try {
    const heredoc = shebangScript(instr);
    if (heredoc) script = await mountScript(ctx.session.paths.tmp, heredoc);
    return await runStep(ctx, instr, mounts, script);
  } finally {
    await script?.release();
    await mounts?.release();
  }
}

async function runStep(ctx: StepContext, instr: RunInstruction, mounts: PreparedMounts | undefined, script: ScriptMount | undefined): Promise<StepOutcome> {
  const { state, session } = ctx;
  const argv = runArgv(state, instr);
  const network = instr.network === "none" ? "none" : instr.network === "host" ? "host" : session.settings.network;
  if (instr.security === "insecure" && !session.settings.allow.has("security.insecure")) {
    throw new DockerfileError(instr.place, "RUN --security=insecure is not allowed: build with --allow security.insecure to grant it (buildx's entitlement)");
  }
  const sandbox: SandboxOptions = { ...session.settings.sandbox, ...(instr.security === "insecure" ? { privileged: true } : {}) };
  const buildArgs = state.argsWithValues();
  const user = state.containerConfig.User ?? "";
  const cwd = state.workdir;
  return runFilesystemStep(session, state, {
    info: ctx.info,
    record: {
      instruction: "RUN",
      text: instr.original,
      definition: { argv, env: state.env, workdir: cwd, user, network, ...(Object.keys(sandbox).length > 0 ? { sandbox } : {}), ...(mounts ? { mounts: mounts.definition } : {}), ...(script ? { script: script.data } : {}), ...(shadowedEnv(state).length > 0 ? { argsOverEnv: shadowedEnv(state) } : {}) },
      buildArgs,
      ...(mounts?.inputs ? { inputs: mounts.inputs } : {}),
    },
    createdBy: runCreatedBy(argv, state.declaredArgs, processEnv(state)),
    work: async (rootfs, { started }) => {
      const tail: string[] = [];
      let partial = "";
      const resolved = await resolveUser(rootfs, user);
      const extraMounts = [...(mounts ? await mounts.materialize() : []), ...(script ? [script.mount] : [])];
      const run = () => runContainer(session.paths, {
        rootfs,
        mounts: extraMounts,
        args: argv,
        env: [...processEnv(state), ...proxyEnv(ctx.buildArgs, processEnv(state)), ...(mounts?.env ?? [])],
        cwd,
        sandbox,
        user: resolved,
        network,
        signal: session.settings.signal,
        onStarted: started,
        onOutput: (stream, chunk) => {
          const text = chunk.toString("utf8");
          session.emit({ type: "step-output", step: ctx.info, stream, text });
          const lines = (partial + text).split("\n");
          partial = lines.pop() ?? "";
          tail.push(...lines);
          if (tail.length > OUTPUT_TAIL) tail.splice(0, tail.length - OUTPUT_TAIL);
        },
      });
      const { exitCode } = mounts ? await mounts.withLocks(run) : await run();
      if (exitCode !== 0) {
        if (partial !== "") tail.push(partial);
        const shown = argv.length > 0 && !instr.command.prependShell ? JSON.stringify(argv) : argv.join(" ");
        throw new RunFailedError(
          { file: instr.place.file, line: instr.place.line },
          `RUN ${instr.original.replace(/^RUN\s+/i, "").split("\n")[0]}: process "${shown}" did not complete successfully`,
          exitCode,
          tail.slice(-OUTPUT_TAIL),
        );
      }
    },
  }, ctx.after === undefined ? {} : { after: ctx.after });
}
