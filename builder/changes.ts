// `import --change 'CMD ["sh"]'`: Dockerfile instructions applied to an image config without a build
// (the same metadata instruction modules a build uses).
import { UserError } from "../common/errors.js";
import type { ContainerConfig } from "../image/config.js";
import { parseDockerfile } from "./parser/index.js";
import { expandInstruction, parseInstruction } from "./instructions/index.js";
import { StageState, configForNewImage } from "./state.js";
import type { StepContext } from "./dispatch/context.js";
import { dispatch } from "./dispatch/index.js";

const ALLOWED = new Set(["CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"]);

export async function applyChanges(changes: string[], base: ContainerConfig = {}): Promise<ContainerConfig> {
  const config = configForNewImage(undefined);
  config.config = structuredClone(base); // `commit -c` changes the container's config; import starts empty
  const state = new StageState("import", 0, config, [], null, "sha256:" as `sha256:${string}`);
  for (const change of changes) {
    const parsed = parseDockerfile(change, "--change");
    const node = parsed.nodes[0];
    if (!node || parsed.nodes.length !== 1) throw new UserError(`invalid --change: ${change}`);
    const instr = parseInstruction(node, "--change");
    if (!ALLOWED.has(instr.kind)) throw new UserError(`--change: ${instr.kind} is not allowed (only ${[...ALLOWED].join(", ")})`);
    if (instr.kind === "WORKDIR") {
      state.containerConfig.WorkingDir = instr.path;
      continue;
    }
    const { instruction, used } = expandInstruction(instr, state.lookup);
    // metadata instructions only touch ctx.state
    await dispatch({ state } as StepContext, instruction, used);
  }
  return state.containerConfig;
}
