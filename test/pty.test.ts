// A container on a pseudo-terminal (`run -t`, `run -it`, `run -dt`, `exec -t`, `exec -it`), tried as a
// person at a terminal would: under util-linux `script` (a real pty as tsbuild's terminal), typing only
// once the container's shell has shown its prompt, reading what the terminal received.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TSBUILD, freshStore, removeStore, tsbuild, tsbuildOk } from "./helpers.js";

let root: string;
let dir: string;
before(async () => {
  root = await freshStore();
  dir = await mkdtemp(join(tmpdir(), "tsbuild-pty-"));
});
after(async () => {
  await tsbuild(["--root", root, "rm", "-f", "dt"]);
  await removeStore(root);
  await rm(dir, { recursive: true, force: true });
});

const TS = `${process.execPath} ${TSBUILD} --root`;

interface Session {
  /** Resolves once the terminal has shown `pattern` (after what was seen before). */
  waitFor(pattern: RegExp): Promise<void>;
  type(text: string): void;
  /** Everything the terminal has received so far. */
  screen(): string;
  done: Promise<{ code: number | null; screen: string }>;
}

/** `sh -c command` under `script` on a fresh pty of 33 rows and 91 columns. */
function underTerminal(command: string): Session {
  const child = spawn("script", ["-qfec", `stty rows 33 cols 91; ${command}`, "/dev/null"], {
    stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, TERM: "xterm" },
  });
  let screen = "";
  let seen = 0;
  const waiters: Array<() => void> = [];
  child.stdout.setEncoding("utf8").on("data", (s: string) => {
    screen += s;
    for (const w of waiters.splice(0)) w();
  });
  child.stderr.setEncoding("utf8").on("data", (s: string) => { screen += s; });
  const done = new Promise<{ code: number | null; screen: string }>((resolve) => {
    child.on("close", (code) => {
      for (const w of waiters.splice(0)) w();
      resolve({ code, screen });
    });
  });
  return {
    async waitFor(pattern) {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const m = pattern.exec(screen.slice(seen));
        if (m) {
          seen += m.index + m[0].length;
          return;
        }
        if (child.exitCode !== null || Date.now() > deadline) assert.fail(`the terminal never showed ${pattern}: ${JSON.stringify(screen.slice(-1500))}`);
        await new Promise<void>((r) => { waiters.push(r); setTimeout(r, 200); });
      }
    },
    type(text) {
      child.stdin.write(text);
    },
    screen: () => screen,
    done,
  };
}

const PROMPT = /\/ # /;

test("run -it: the shell's own terminal (/dev/pts/0) of the user's size, echoing what is typed; the exit code passes; the terminal is restored", async () => {
  const before = join(dir, "stty-before");
  const afterFile = join(dir, "stty-after");
  const s = underTerminal(`stty -g > ${before}; ${TS} ${root} run -it --rm busybox:local sh; rc=$?; stty -g > ${afterFile}; exit $rc`);
  await s.waitFor(PROMPT);
  s.type("tty\r");
  await s.waitFor(/\/dev\/pts\/0\r\n/);
  await s.waitFor(PROMPT);
  s.type("stty size; echo typed-$((40+2))\r");
  // the container's terminal echoes the line as typed (tsbuild's terminal is raw: it echoes nothing)
  await s.waitFor(/stty size; echo typed-\$\(\(40\+2\)\)\r\n33 91\r\ntyped-42\r\n/);
  await s.waitFor(PROMPT);
  s.type("exit 3\r");
  const { code, screen } = await s.done;
  assert.equal(code, 3, screen);
  // output reaches the screen as the container's terminal wrote it (no "\r\r\n": raw output, as Docker's)
  assert.doesNotMatch(screen, /\r\r\n/);
  assert.equal(await readFile(afterFile, "utf8"), await readFile(before, "utf8"), "the terminal's settings are as before");
});

test("run -it: a resize of the user's terminal (SIGWINCH) reaches the container's", async () => {
  const flag = join(dir, "resize-now");
  // what a window manager does once the flag appears: the size changes, the kernel signals the terminal's foreground group
  const s = underTerminal(`(while [ ! -e ${flag} ]; do sleep 0.1; done; stty rows 50 cols 120 < /dev/tty) & exec ${TS} ${root} run -it --rm busybox:local sh`);
  await s.waitFor(PROMPT);
  s.type("stty size\r");
  await s.waitFor(/\r\n33 91\r\n/);
  await s.waitFor(PROMPT);
  await writeFile(flag, "");
  let resized = false;
  for (let i = 0; i < 20 && !resized; i++) {
    await new Promise((r) => setTimeout(r, 300));
    s.type("stty size\r");
    await s.waitFor(/\r\n\d+ \d+\r\n/);
    await s.waitFor(PROMPT);
    resized = s.screen().includes("\r\n50 120\r\n");
  }
  s.type("exit 0\r");
  const { code, screen } = await s.done;
  assert.equal(code, 0, screen);
  assert.match(screen, /\r\n50 120\r\n/);
});

test("run -t without -i and without a terminal: the process still gets one, its output comes through; -it refuses a non-terminal input", async () => {
  const r = await tsbuild(["--root", root, "run", "-t", "--rm", "busybox:local", "sh", "-c", "tty; echo out; echo err >&2; exit 4"]);
  assert.equal(r.code, 4);
  assert.equal(r.stdout, "/dev/pts/0\r\nout\r\nerr\r\n", "stdout and stderr are one stream on a terminal");
  const refused = await tsbuild(["--root", root, "run", "-it", "--rm", "busybox:local", "true"]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /the input device is not a TTY/);
});

test("run -dt: the supervisor holds the terminal and logs it; exec -t and exec -it get their own; exit codes pass (126 when exec cannot start)", async () => {
  await tsbuildOk(["--root", root, "run", "-dt", "--name", "dt", "busybox:local", "sh", "-c", "tty; echo started; sleep 60"]);
  for (let i = 0; i < 100 && !(await tsbuildOk(["--root", root, "logs", "dt"])).stdout.includes("started"); i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal((await tsbuildOk(["--root", root, "logs", "dt"])).stdout, "/dev/pts/0\r\nstarted\r\n");
  assert.equal((await tsbuildOk(["--root", root, "container", "inspect", "-f", "{{.Config.Tty}}", "dt"])).stdout, "true\n");
  const t = await tsbuild(["--root", root, "exec", "-t", "dt", "sh", "-c", "tty; exit 7"]);
  assert.equal(t.code, 7);
  assert.match(t.stdout, /^\/dev\/pts\/\d+\r\n$/);
  const missing = await tsbuild(["--root", root, "exec", "-t", "dt", "no-such-command"]);
  assert.equal(missing.code, 126);
  assert.match(missing.stderr, /OCI runtime exec failed: .*no-such-command.*not found/);
  const s = underTerminal(`exec ${TS} ${root} exec -it dt sh`);
  await s.waitFor(PROMPT);
  s.type("stty size; exit 5\r");
  await s.waitFor(/\r\n33 91\r\n/);
  const { code, screen } = await s.done;
  assert.equal(code, 5, screen);
  await tsbuildOk(["--root", root, "rm", "-f", "dt"]);
});
