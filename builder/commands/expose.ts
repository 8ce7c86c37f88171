import { DockerfileError } from "../../common/errors.js";
import type { ExposeInstruction } from "../instructions/index.js";
import type { StepContext } from "./context.js";

const PORT_RE = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i;

/** EXPOSE: adds ports (default protocol tcp; ranges expand) to the image config. */
export function dispatchExpose(ctx: StepContext, instr: ExposeInstruction): void {
  const ports = { ...(ctx.state.run.ExposedPorts ?? {}) };
  for (const spec of instr.ports) {
    const m = PORT_RE.exec(spec);
    if (!m) throw new DockerfileError(instr.place, `invalid containerPort: ${spec}`);
    const proto = (m[3] ?? "tcp").toLowerCase();
    const start = Number.parseInt(m[1]!, 10);
    const end = m[2] === undefined ? start : Number.parseInt(m[2], 10);
    if (end < start || end > 65535) throw new DockerfileError(instr.place, `invalid port range: ${spec}`);
    for (let p = start; p <= end; p++) ports[`${p}/${proto}`] = {};
  }
  ctx.state.run.ExposedPorts = ports;
  const shown = Object.keys(ports).sort();
  ctx.state.addHistory(`EXPOSE map[${shown.map((p) => `${p}:{}`).join(" ")}]`, true);
}
