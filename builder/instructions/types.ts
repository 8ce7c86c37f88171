// Typed Dockerfile instructions (BuildKit's instructions package): one interface per kind,
// joined in the discriminated union Instruction.

/** Where an instruction is: its file and first and last line. */
export interface Place {
  file: string;
  line: number;
  endLine: number;
}

interface Base {
  place: Place;
  /** The instruction as written, continuation lines joined. */
  original: string;
}

/** ENV / LABEL pair. noDelim: written in the legacy `KEY value` form. */
export interface KeyValuePair {
  key: string;
  value: string;
  noDelim: boolean;
}

/** A heredoc given to RUN/CMD/ENTRYPOINT: data as written (apply chompHeredocContent when chomp). */
export interface HeredocFile {
  name: string;
  data: string;
  chomp: boolean;
  expand: boolean;
}

/** RUN/CMD/ENTRYPOINT arguments: exec form (prependShell false) or one shell string. */
export interface CommandLine {
  cmdLine: string[];
  prependShell: boolean;
  files: HeredocFile[];
}

/** A COPY/ADD source given inline as a heredoc (already chomped for `<<-`). */
export interface SourceContent {
  path: string;
  data: string;
  expand: boolean;
}

export interface FromInstruction extends Base {
  kind: "FROM";
  baseName: string;
  /** Lowercased `AS` name. */
  stageName?: string;
  platform?: string;
}
export interface RunInstruction extends Base {
  kind: "RUN";
  command: CommandLine;
  /** `--mount` values as written, unparsed. */
  mounts: string[];
  network?: "default" | "none" | "host";
  security?: "sandbox" | "insecure";
}
export interface CmdInstruction extends Base {
  kind: "CMD";
  command: CommandLine;
}
/** An empty cmdLine means a null entrypoint (BuildKit's emptyAsNil). */
export interface EntrypointInstruction extends Base {
  kind: "ENTRYPOINT";
  command: CommandLine;
}
export interface EnvInstruction extends Base {
  kind: "ENV";
  env: KeyValuePair[];
}
export interface ArgPair {
  key: string;
  /** undefined when no default was given (`ARG name`). */
  value?: string;
}
export interface ArgInstruction extends Base {
  kind: "ARG";
  args: ArgPair[];
}
export interface LabelInstruction extends Base {
  kind: "LABEL";
  labels: KeyValuePair[];
}
export interface ExposeInstruction extends Base {
  kind: "EXPOSE";
  /** Sorted as BuildKit sorts them. */
  ports: string[];
}
export interface WorkdirInstruction extends Base {
  kind: "WORKDIR";
  path: string;
}
export interface UserInstruction extends Base {
  kind: "USER";
  user: string;
}
export interface VolumeInstruction extends Base {
  kind: "VOLUME";
  volumes: string[];
}
export interface CopyInstruction extends Base {
  kind: "COPY";
  sources: string[];
  contents: SourceContent[];
  dest: string;
  from?: string;
  chown?: string;
  chmod?: string;
  link: boolean;
  parents: boolean;
  excludes: string[];
}
export interface AddInstruction extends Base {
  kind: "ADD";
  sources: string[];
  contents: SourceContent[];
  dest: string;
  chown?: string;
  chmod?: string;
  link: boolean;
  checksum?: string;
  keepGitDir: boolean;
  excludes: string[];
}
export interface ShellInstruction extends Base {
  kind: "SHELL";
  shell: string[];
}
export interface StopSignalInstruction extends Base {
  kind: "STOPSIGNAL";
  signal: string;
}
/** Durations in nanoseconds, 0 when not given (as in the image config). */
export interface HealthConfig {
  /** ["NONE"], ["CMD", ...argv] or ["CMD-SHELL", command]. */
  test: string[];
  interval: number;
  timeout: number;
  startPeriod: number;
  startInterval: number;
  retries: number;
}
export interface HealthcheckInstruction extends Base {
  kind: "HEALTHCHECK";
  health: HealthConfig;
}
export interface OnbuildInstruction extends Base {
  kind: "ONBUILD";
  /** The trigger as it goes into the image config (heredoc bodies appended as BuildKit does). */
  expression: string;
  /** The trigger's keyword, uppercased. */
  trigger: string;
}
export interface MaintainerInstruction extends Base {
  kind: "MAINTAINER";
  maintainer: string;
}

export type Instruction =
  | FromInstruction
  | RunInstruction
  | CmdInstruction
  | EntrypointInstruction
  | EnvInstruction
  | ArgInstruction
  | LabelInstruction
  | ExposeInstruction
  | WorkdirInstruction
  | UserInstruction
  | VolumeInstruction
  | CopyInstruction
  | AddInstruction
  | ShellInstruction
  | StopSignalInstruction
  | HealthcheckInstruction
  | OnbuildInstruction
  | MaintainerInstruction;

export type InstructionKind = Instruction["kind"];
