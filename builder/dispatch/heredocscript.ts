// `RUN <<EOF` whose heredoc starts with "#!": BuildKit writes the heredoc to a file (mode 0755) in a
// folder mounted read-only at /dev/pipes/ and runs `<SHELL> /dev/pipes/EOF`, so the kernel starts the
// script's own interpreter (awk, python, ...). Without "#!" the heredoc is handed to the shell instead
// (run.ts). /dev is the container's tmpfs, so the mount point never reaches the layer.
import { chmod, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { scratchName } from "../../runtime/owner.js";
import type { OciMount } from "../../runtime/ocispec.js";
import { chompHeredocContent, parseHeredocWord } from "../parser/index.js";
import type { RunInstruction } from "../instructions/index.js";

export const SCRIPT_DIR = "/dev/pipes";

export interface HeredocScript {
  /** The heredoc's name, the file's name under /dev/pipes. */
  name: string;
  /** The file's content (leading tabs removed for `<<-`). */
  data: string;
}

/** The script when the RUN is one heredoc alone whose text (after `<<-` chomping) starts with "#!". */
export function shebangScript(instr: RunInstruction): HeredocScript | undefined {
  const { cmdLine, prependShell, files } = instr.command;
  const file = files[0];
  if (!prependShell || files.length !== 1 || file === undefined) return undefined;
  const only = parseHeredocWord(cmdLine.join(" ").trim());
  if (only?.name !== file.name) return undefined;
  // Tested after `<<-` removed the leading tabs: BuildKit 0.13 tested before, so a tab-indented
  // script went to the shell (moby/buildkit#5383, fixed in v0.27; testdata/oracle-differences.md).
  const data = file.chomp ? chompHeredocContent(file.data) : file.data;
  if (!data.startsWith("#!")) return undefined;
  if (file.name.includes("/") || file.name === "." || file.name === "..") return undefined; // not a file name
  return { name: file.name, data };
}

export interface ScriptMount {
  mount: OciMount;
  /** The script's text: part of the step's cache key. */
  data: string;
  release(): Promise<void>;
}

/** Writes the script into a private folder under `tmp` and describes its read-only mount. */
export async function mountScript(tmp: string, script: HeredocScript): Promise<ScriptMount> {
  const dir = join(tmp, scratchName("heredoc"));
  await mkdir(dir, { recursive: true });
  try {
    await chmod(dir, 0o755);
    const file = join(dir, script.name);
    await writeFile(file, script.data, { mode: 0o755 });
    await chmod(file, 0o755); // whatever the umask
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    mount: { destination: SCRIPT_DIR, type: "bind", source: dir, options: ["rbind", "ro"] },
    data: script.data,
    release: () => rm(dir, { recursive: true, force: true }),
  };
}
