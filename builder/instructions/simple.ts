// One-value and list instructions: WORKDIR, USER, STOPSIGNAL, MAINTAINER, EXPOSE, VOLUME.
import { type ParseRequest, InstructionError, atLeastOneArgument, exactlyOneArgument } from "./request.js";
import type {
  ExposeInstruction,
  MaintainerInstruction,
  StopSignalInstruction,
  UserInstruction,
  VolumeInstruction,
  WorkdirInstruction,
} from "./types.js";

function single(req: ParseRequest, cmd: string): string {
  if (req.args.length !== 1) throw exactlyOneArgument(cmd);
  return req.args[0]!;
}

export function parseWorkdir(req: ParseRequest): WorkdirInstruction {
  const path = single(req, "WORKDIR");
  req.flags.parse();
  return { kind: "WORKDIR", place: req.place, original: req.original, path };
}

export function parseUser(req: ParseRequest): UserInstruction {
  const user = single(req, "USER");
  req.flags.parse();
  return { kind: "USER", place: req.place, original: req.original, user };
}

export function parseMaintainer(req: ParseRequest): MaintainerInstruction {
  const maintainer = single(req, "MAINTAINER");
  req.flags.parse();
  return { kind: "MAINTAINER", place: req.place, original: req.original, maintainer };
}

export function parseStopSignal(req: ParseRequest): StopSignalInstruction {
  // BuildKit does not check STOPSIGNAL's flags; neither do we
  const signal = single(req, "STOPSIGNAL");
  return { kind: "STOPSIGNAL", place: req.place, original: req.original, signal };
}

export function parseExpose(req: ParseRequest): ExposeInstruction {
  if (req.args.length === 0) throw atLeastOneArgument("EXPOSE");
  req.flags.parse();
  return { kind: "EXPOSE", place: req.place, original: req.original, ports: [...req.args].sort() };
}

export function parseVolume(req: ParseRequest): VolumeInstruction {
  if (req.args.length === 0) throw atLeastOneArgument("VOLUME");
  req.flags.parse();
  const volumes = req.args.map((v) => {
    const t = v.trim();
    if (t === "") throw new InstructionError("VOLUME specified can not be an empty string");
    return t;
  });
  return { kind: "VOLUME", place: req.place, original: req.original, volumes };
}
