// Variable expansion of a typed instruction, exactly where BuildKit's dispatcher expands:
// ADD/COPY (sources, destination, --from/--chown/--chmod/--checksum; heredoc bodies only when
// their delimiter was unquoted), ENV, LABEL, EXPOSE, STOPSIGNAL, USER, VOLUME, WORKDIR, ARG,
// FROM (image and --platform, with the meta args), RUN --mount values. RUN's command, CMD/ENTRYPOINT/SHELL/HEALTHCHECK/
// ONBUILD/MAINTAINER are left alone: their text goes to the shell or into the image as written.
import { DockerfileError } from "../../common/errors.js";
import { type EnvLookup, processWithOptions, WordExpansionError } from "../shell/lex.js";
import type { Instruction, KeyValuePair, SourceContent } from "./types.js";

export interface Expanded<T extends Instruction = Instruction> {
  instruction: T;
  /** Every variable name the instruction's expanded text referred to, set or not. */
  used: Set<string>;
}

export function expandInstruction<T extends Instruction>(instr: T, env: EnvLookup, escape = "\\"): Expanded<T> {
  const used = new Set<string>();
  const run = (word: string, opts: { escape: string; skipProcessQuotes?: boolean }, split: boolean): string[] => {
    try {
      const r = processWithOptions(word, env, opts);
      for (const n of r.matched) used.add(n);
      for (const n of r.unmatched) used.add(n);
      return split ? r.words : [r.result];
    } catch (e) {
      if (e instanceof WordExpansionError) {
        throw new DockerfileError({ file: instr.place.file, line: instr.place.line }, e.message);
      }
      throw e;
    }
  };
  const word = (w: string): string => run(w, { escape }, false)[0]!;
  const opt = (w: string | undefined): string | undefined => (w === undefined ? undefined : word(w));
  const pairs = (kvs: KeyValuePair[]): KeyValuePair[] => kvs.map((p) => ({ ...p, key: word(p.key), value: word(p.value) }));
  // heredoc bodies: always `\` as escape, quotes are ordinary text
  const contents = (cs: SourceContent[]): SourceContent[] =>
    cs.map((c) => (c.expand ? { ...c, data: run(c.data, { escape: "\\", skipProcessQuotes: true }, false)[0]! } : c));
  const withOptional = <K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> =>
    (value === undefined ? {} : { [key]: value }) as Partial<Record<K, string>>;

  const i: Instruction = instr;
  let out: Instruction;
  switch (i.kind) {
    case "COPY":
      out = {
        ...i,
        sources: i.sources.map(word),
        dest: word(i.dest),
        contents: contents(i.contents),
        ...withOptional("from", opt(i.from)),
        ...withOptional("chown", opt(i.chown)),
        ...withOptional("chmod", opt(i.chmod)),
      };
      break;
    case "ADD":
      out = {
        ...i,
        sources: i.sources.map(word),
        dest: word(i.dest),
        contents: contents(i.contents),
        ...withOptional("chown", opt(i.chown)),
        ...withOptional("chmod", opt(i.chmod)),
        ...withOptional("checksum", opt(i.checksum)),
      };
      break;
    case "RUN":
      // Only the --mount values: the command itself goes to the shell as written.
      out = i.mounts.length === 0 ? i : { ...i, mounts: i.mounts.map(word) };
      break;
    case "ENV":
      out = { ...i, env: pairs(i.env) };
      break;
    case "LABEL":
      out = { ...i, labels: pairs(i.labels) };
      break;
    case "EXPOSE":
      out = { ...i, ports: i.ports.flatMap((p) => run(p, { escape }, true)) };
      break;
    case "STOPSIGNAL":
      out = { ...i, signal: word(i.signal) };
      break;
    case "USER":
      out = { ...i, user: word(i.user) };
      break;
    case "VOLUME":
      out = { ...i, volumes: i.volumes.map(word) };
      break;
    case "WORKDIR":
      out = { ...i, path: word(i.path) };
      break;
    case "ARG":
      out = { ...i, args: i.args.map((a) => ({ key: word(a.key), ...withOptional("value", opt(a.value)) })) };
      break;
    case "FROM": {
      const baseName = word(i.baseName);
      if (baseName === "") {
        throw new DockerfileError({ file: i.place.file, line: i.place.line }, `base name (${i.baseName}) should not be blank`);
      }
      out = { ...i, baseName, ...withOptional("platform", opt(i.platform)) };
      break;
    }
    default:
      out = i;
  }
  return { instruction: out as T, used };
}
