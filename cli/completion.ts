// `tsbuild completion bash|zsh|fish`: shell completion written from the command tree itself, so a new
// subcommand or option completes without anyone editing a script. zsh runs the bash function through
// bashcompinit (as kubectl's and docker's older scripts do); fish gets its own `complete` lines.
import type { Command, Option } from "commander";
import { UserError } from "../common/errors.js";

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

interface Node {
  path: string[];
  flags: string[];
  subcommands: { name: string; description: string }[];
  options: Option[];
  takesFiles: boolean;
}

// Subcommands whose arguments are files or folders (the others take image or container names).
const FILE_ARGUMENTS = new Set(["build", "load", "import"]);
const GLOBAL_WITH_VALUE = ["--root", "--insecure-registry"];

function nodes(cmd: Command, path: string[] = []): Node[] {
  const visible = cmd.commands.filter((c) => c.name() !== "help");
  const options = cmd.options.filter((o) => !o.hidden);
  const flags = options.flatMap((o) => [o.short, o.long].filter((f): f is string => f !== undefined));
  const self: Node = {
    path,
    flags: [...flags, "--help"],
    subcommands: visible.map((c) => ({ name: c.name(), description: c.description() })),
    options,
    takesFiles: FILE_ARGUMENTS.has(path[path.length - 1] ?? "") && visible.length === 0,
  };
  return [self, ...visible.flatMap((c) => nodes(c, [...path, c.name()]))];
}

export function completionScript(program: Command, shell: string): string {
  if (!(SHELLS as readonly string[]).includes(shell)) {
    throw new UserError(`completion: unknown shell "${shell.slice(0, 40)}" (one of ${SHELLS.join(", ")})`);
  }
  const tree = nodes(program);
  return shell === "fish" ? fish(tree) : shell === "zsh" ? `autoload -U +X bashcompinit && bashcompinit\n${bash(tree)}` : bash(tree);
}

function quoteWords(words: string[]): string {
  return words.join(" ").replace(/[^A-Za-z0-9 _./:=-]/g, "");
}

function bash(tree: Node[]): string {
  const cases = tree.map((n) => {
    const words = n.subcommands.map((s) => s.name);
    const positional = n.takesFiles ? 'COMPREPLY=($(compgen -f -- "$cur"))' : words.length > 0 ? `COMPREPLY=($(compgen -W "${quoteWords(words)}" -- "$cur"))` : "COMPREPLY=()";
    return `    "${n.path.join(" ")}")\n      if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "${quoteWords(n.flags)}" -- "$cur")); else ${positional}; fi ;;`;
  });
  const known = tree.filter((n) => n.subcommands.length > 0).map((n) => `"${n.path.join(" ")}"`).join("|");
  return `# tsbuild completion for bash: source it, or put it in /etc/bash_completion.d/tsbuild
_tsbuild() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" i word
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    case "$word" in
      ${GLOBAL_WITH_VALUE.join("|")}) ((i++)) ;;
      -*) ;;
      *) case "$path" in
           ${known}) path="\${path:+$path }$word" ;;
         esac ;;
    esac
  done
  case "$path" in
${cases.join("\n")}
    *) COMPREPLY=() ;;
  esac
}
complete -o default -F _tsbuild tsbuild
`;
}

function fish(tree: Node[]): string {
  const lines = ["# tsbuild completion for fish: tsbuild completion fish > ~/.config/fish/completions/tsbuild.fish", "complete -c tsbuild -f"];
  const esc = (s: string): string => s.replace(/'/g, "\\'");
  for (const n of tree) {
    // Top level: no subcommand yet; below it: the last word of the path has been given.
    const condition = n.path.length === 0 ? "__fish_use_subcommand" : n.path.map((w) => `__fish_seen_subcommand_from ${w}`).join("; and ");
    for (const s of n.subcommands) lines.push(`complete -c tsbuild -n '${condition}' -a '${esc(s.name)}' -d '${esc(s.description)}'`);
    for (const o of n.options) {
      const parts = [`complete -c tsbuild -n '${condition}'`];
      if (o.short) parts.push(`-s ${o.short.slice(1)}`);
      if (o.long) parts.push(`-l ${o.long.slice(2)}`);
      if (o.required || o.optional) parts.push("-r");
      parts.push(`-d '${esc(o.description)}'`);
      lines.push(parts.join(" "));
    }
    if (n.takesFiles) lines.push(`complete -c tsbuild -n '${condition}' -F`);
  }
  return `${lines.join("\n")}\n`;
}
