import { DockerfileError } from "../../common/errors.js";
import type { ExposeInstruction } from "../instructions/index.js";
import type { StepContext } from "./context.js";
import { exposeCreatedBy } from "./history.js";

const PORT_RE = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i;

/** EXPOSE: adds ports (default protocol tcp; ranges expand) to the image config. */
export function dispatchExpose(ctx: StepContext, instr: ExposeInstruction): void {
  const ports = { ...(ctx.state.containerConfig.ExposedPorts ?? {}) };
  const own: string[] = [];
  for (const given of instr.ports) {
    // `IP:HOST:CONTAINER` or `HOST:CONTAINER` publishes at run time, not in an image: BuildKit 0.13 keeps the
    // container port (Docker's nat.ParsePortSpecs), its later releases warn (ExposeInvalidFormat)
    const spec = given.includes(":") ? given.slice(given.lastIndexOf(":") + 1) : given;
    // (`import --change`/`commit -c` run EXPOSE without a build session: no warning there)
    if (spec !== given) ctx.session?.emit({ type: "warning", place: { file: instr.place.file, line: instr.place.line }, message: `EXPOSE ${given}: an IP address or host port is not part of an image; exposing ${spec}` });
    const m = PORT_RE.exec(spec);
    if (!m) throw new DockerfileError(instr.place, `invalid containerPort: ${spec}`);
    const proto = (m[3] ?? "tcp").toLowerCase();
    const start = Number.parseInt(m[1]!, 10);
    const end = m[2] === undefined ? start : Number.parseInt(m[2], 10);
    if (end < start || end > 65535) throw new DockerfileError(instr.place, `invalid port range: ${spec}`);
    for (let p = start; p <= end; p++) own.push(`${p}/${proto}`);
  }
  for (const p of own) ports[p] = {};
  ctx.state.containerConfig.ExposedPorts = ports;
  ctx.state.addHistory(exposeCreatedBy(own), true); // this instruction's ports only, as BuildKit
}
