// The first ten minutes: a mistyped subcommand is answered with the nearest one, a build context still
// needs no `build`, exit codes are Docker's, and the completion scripts complete what the CLI has.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { UnknownCommandError, nearestCommand, withDefaultCommand } from "./commandword.js";
import { completionScript } from "./completion.js";
import { makeProgram } from "./main.js";

const TSBUILD = join(dirname(fileURLToPath(import.meta.url)), "..", "bin", "tsbuild");
const none = (): boolean => false;

test("a context or an option means build; a subcommand is kept", () => {
  assert.deepEqual(withDefaultCommand(["-t", "app", "."], none), ["build", "-t", "app", "."]);
  assert.deepEqual(withDefaultCommand(["--root", "/r", "./ctx"], none), ["--root", "/r", "build", "./ctx"]);
  assert.deepEqual(withDefaultCommand(["ctx"], (p) => p === "ctx"), ["build", "ctx"]);
  assert.deepEqual(withDefaultCommand(["-"], none), ["build", "-"]);
  assert.deepEqual(withDefaultCommand(["https://example.invalid/repo.git"], none), ["build", "https://example.invalid/repo.git"]);
  assert.deepEqual(withDefaultCommand(["images", "-q"], none), ["images", "-q"]);
  assert.deepEqual(withDefaultCommand(["--root=/r", "--help"], none), ["--root=/r", "--help"]);
});

test("a mistyped subcommand is an error naming the nearest command", () => {
  assert.throws(() => withDefaultCommand(["imgaes"], none), (e: unknown) => e instanceof UnknownCommandError && /unknown command "imgaes": did you mean "images"\?/.test(e.message));
  assert.throws(() => withDefaultCommand(["biuld", "."], none), /did you mean "build"/);
  assert.throws(() => withDefaultCommand(["--root", "/r", "histroy", "x"], none), /did you mean "history"/);
  assert.throws(() => withDefaultCommand(["zzzzzz"], none), (e: unknown) => e instanceof Error && !e.message.includes("did you mean"));
  assert.equal(nearestCommand("pus"), "push");
  assert.equal(nearestCommand("inspcet"), "inspect");
  assert.equal(nearestCommand("quux"), undefined);
});

test("exit codes as Docker's: unknown command 1, unknown flag 125, wrong arguments 1", () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [TSBUILD, ...args], { encoding: "utf8" });
  const typo = run("imgaes");
  assert.equal(typo.status, 1);
  assert.equal(typo.stderr.trim().split("\n").length, 1, typo.stderr);
  assert.match(typo.stderr, /did you mean "images"/);
  assert.equal(run("images", "--bogus").status, 125);
  assert.equal(run("build", "--progress", "loud", ".").status, 125);
  assert.equal(run("run", "--bogus", "busybox").status, 125);
  assert.equal(run("exec", "--bogus", "c", "true").status, 125);
  assert.equal(run("tag", "a").status, 1);
});

test("bash completion completes subcommands, their subcommands and options", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tsbuild-completion-"));
  try {
    const script = join(dir, "tsbuild.bash");
    await writeFile(script, completionScript(makeProgram(), "bash"));
    const complete = (line: string): string[] => {
      const words = line.split(" ");
      const cmd = `source ${script}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _tsbuild; printf '%s\\n' "\${COMPREPLY[@]}"`;
      return execFileSync("bash", ["-c", cmd], { encoding: "utf8" }).split("\n").filter((l) => l !== "").sort();
    };
    assert.deepEqual(complete("tsbuild ima"), ["image", "images"]);
    assert.deepEqual(complete("tsbuild image pr"), ["prune"]);
    assert.ok(complete("tsbuild build --no-").includes("--no-cache"));
    assert.ok(complete("tsbuild --root /r build -").includes("--tag"));
    assert.deepEqual(complete("tsbuild cache l"), ["ls"]);
    assert.ok(complete("tsbuild completion ").length === 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("zsh and fish scripts; an unknown shell is a one-line error", () => {
  assert.match(completionScript(makeProgram(), "zsh"), /^autoload -U \+X bashcompinit && bashcompinit\n/);
  const fish = completionScript(makeProgram(), "fish");
  assert.match(fish, /complete -c tsbuild -n '__fish_use_subcommand' -a 'images' -d 'List images'/);
  assert.match(fish, /complete -c tsbuild -n '__fish_seen_subcommand_from image; and __fish_seen_subcommand_from prune' -s a -l all/);
  assert.match(fish, /-n '__fish_seen_subcommand_from build' -s t -l tag -r/);
  assert.throws(() => completionScript(makeProgram(), "tcsh"), /unknown shell "tcsh" \(one of bash, zsh, fish\)/);
});
