// The tty progress as a person sees it: the screen drawn from a build's events, and a real build under
// a pseudo-terminal (util-linux `script`), sized and of unknown size.
import { after, before, mock, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BuildEvent, StepInfo } from "../builder/events.js";
import { TtyProgress, fitLine } from "../cli/progress/tty.js";
import { PlainProgress } from "../cli/progress/plain.js";
import { TSBUILD, freshStore, packImage, removeStore } from "./helpers.js";

function info(index: number, instruction: string, filesystem: boolean, position: number, stageIndex = 0): StepInfo {
  return {
    id: `s${stageIndex}.${index}`, stage: "stage-0", stageIndex, index, total: 3, instruction, place: { file: "Dockerfile", line: index }, filesystem,
    shown: { position, count: 2, text: instruction, prefix: "" },
  };
}

test("fitLine cuts the left part and right-aligns the time", () => {
  assert.equal(fitLine("abc", "1.0s", 10), "abc   1.0s");
  assert.equal(fitLine("abcdefghijkl", "1.0s", 10), "abcde 1.0s");
  assert.equal(fitLine("abcdefghijkl", "", 10), "abcdefghij");
});

test("the screen: header, rows in step order, verdicts and reasons, output tail, image lines, cut to width", () => {
  mock.timers.enable({ apis: ["Date"], now: 0 });
  try {
    let screen = "";
    const render = Object.assign((s: string) => { screen = s; }, { done: () => undefined });
    const p = new TtyProgress(render, () => undefined, () => 60); // 59 columns used
    const from = info(1, "FROM docker.io/library/busybox:local", false, 1);
    const env = info(2, "ENV A=1", false, 1);
    const run = info(3, "RUN echo a-long-command-line-that-does-not-fit-in-sixty-columns", true, 2);
    const events: BuildEvent[] = [
      { type: "step-start", step: from }, { type: "step-done", step: from, result: { cached: true, durationMs: 0 } },
      { type: "step-start", step: env }, { type: "step-done", step: env, result: { cached: true, durationMs: 0 } },
      { type: "step-start", step: run }, { type: "step-output", step: run, stream: "stdout", text: "hi\n" },
    ];
    for (const e of events) p.handle(e);
    mock.timers.tick(1500);
    p.handle({ type: "step-output", step: run, stream: "stdout", text: "there\n" });
    assert.equal(screen, [
      "[+] Building 1.5s (1/2)",
      " => CACHED [1/2] FROM docker.io/library/busybox:local  0.0s",
      " => [2/2] RUN echo a-long-command-line-that-does-not-f 1.5s",
      " => => # hi",
      " => => # there",
    ].join("\n"));
    mock.timers.tick(500);
    p.handle({ type: "step-done", step: run, result: { cached: false, durationMs: 300, reason: "not built before" } });
    p.handle({ type: "image", id: "sha256:abc", manifestDigest: "sha256:def", refs: ["docker.io/library/app:1"] });
    p.finish();
    assert.equal(screen, [
      "[+] Building 2.0s (3/3) FINISHED",
      " => CACHED [1/2] FROM docker.io/library/busybox:local  0.0s",
      " => [2/2] RUN echo a-long-command-line-that-does-not-f 2.0s",
      " => exporting to image                                 0.0s",
      " => => writing image sha256:abc                        0.0s",
      " => => naming to docker.io/library/app:1               0.0s",
    ].join("\n"));
  } finally {
    mock.timers.reset();
  }
});

test("a long unpack of the base shows under its FROM row: what is read of the layer, of its size, and its time", () => {
  mock.timers.enable({ apis: ["Date"], now: 0 });
  try {
    let screen = "";
    const render = Object.assign((s: string) => { screen = s; }, { done: () => undefined });
    const p = new TtyProgress(render, () => undefined, () => 60);
    const from = info(1, "FROM docker.io/library/debian:12", false, 1);
    const id = `extracting sha256:${"a".repeat(64)}`;
    p.handle({ type: "step-start", step: from });
    mock.timers.tick(1000);
    p.handle({ type: "step-status", step: from, status: { id, current: 12_345_678, total: 49_560_000, done: false, started: 0 } });
    assert.equal(screen, [
      "[+] Building 1.0s (0/1)",
      " => [1/2] FROM docker.io/library/debian:12             1.0s",
      " => => extracting sha256:aaaaaaaaaaa 12.35MB / 49.56MB 1.0s",
    ].join("\n"));
    mock.timers.tick(2000);
    p.handle({ type: "step-status", step: from, status: { id, current: 49_560_000, total: 49_560_000, done: true, started: 0 } });
    mock.timers.tick(500);
    p.handle({ type: "step-done", step: from, result: { cached: true, durationMs: 3500 } });
    p.finish();
    assert.equal(screen, [
      "[+] Building 3.5s (1/1) FINISHED",
      " => CACHED [1/2] FROM docker.io/library/debian:12      3.5s",
      " => => extracting sha256:aaaaaaaaaaa 49.56MB / 49.56MB 3.0s",
    ].join("\n"));
  } finally {
    mock.timers.reset();
  }
});

test("plain progress prints a status line when it moves, and its end", () => {
  mock.timers.enable({ apis: ["Date"], now: 0 });
  try {
    const lines: string[] = [];
    const p = new PlainProgress((l) => lines.push(l));
    const from = info(1, "FROM docker.io/library/debian:12", false, 1);
    const id = `extracting sha256:${"b".repeat(64)}`;
    p.handle({ type: "step-start", step: from });
    mock.timers.tick(1000);
    p.handle({ type: "step-status", step: from, status: { id, current: 1_000_000, total: 3_000_000, done: false, started: 0 } });
    mock.timers.tick(1000);
    p.handle({ type: "step-status", step: from, status: { id, current: 1_000_000, total: 3_000_000, done: false, started: 0 } });
    p.handle({ type: "step-status", step: from, status: { id, current: 3_000_000, total: 3_000_000, done: true, started: 0 } });
    assert.deepEqual(lines, [
      "#1 [1/2] FROM docker.io/library/debian:12",
      `#1 ${id} 1.00MB / 3.00MB 1.0s`,
      `#1 ${id} 3.00MB / 3.00MB 2.0s done`,
    ]);
  } finally {
    mock.timers.reset();
  }
});

let root: string;
let ctx: string;
before(async () => {
  root = await freshStore();
  ctx = await mkdtemp(join(tmpdir(), "tsbuild-tty-"));
  await writeFile(join(ctx, "Dockerfile"), `ARG BASE=busybox:local\nFROM \${BASE}\nRUN echo ${"x".repeat(200)}\nCOPY f /f\n`);
  await writeFile(join(ctx, "f"), "f\n");
});
after(async () => {
  await removeStore(root);
  await rm(ctx, { recursive: true, force: true });
});

/** Runs a build under a pseudo-terminal of the given size; returns what the terminal received. */
function underTerminal(cols: number, tag: string, env: Record<string, string> = {}, store = root): string {
  const cmd = `stty cols ${cols} rows 40; exec ${process.execPath} ${TSBUILD} --root ${store} build -t ${tag} ${ctx}`;
  return execFileSync("script", ["-qec", cmd, "/dev/null"], { encoding: "utf8", env: { ...process.env, TERM: "xterm", ...env } });
}

test("a real build on a 100-column terminal: header, resolved FROM, counters, cut lines, the image's id and name", () => {
  const out = underTerminal(100, "tty:1");
  const last = out.split("[+] Building").at(-1) ?? "";
  // three steps and the export, all ended
  assert.match(last, /^ \d+\.\ds \(4\/4\) FINISHED/);
  assert.match(last, / => (CACHED )?\[1\/3\] FROM docker\.io\/library\/busybox:local +\d+\.\ds/);
  // the RUN line cut before its time, so that it fits
  assert.match(last, / => \[2\/3\] RUN echo x+ \d+\.\ds\r?\n/);
  assert.match(last, / => \[3\/3\] COPY f \/f( \(rebuilt: [^)]+\))? +\d+\.\ds/);
  assert.match(last, / => exporting to image +0\.0s/);
  assert.match(last, / => => writing image sha256:[0-9a-f]{64} +0\.0s/);
  assert.match(last, /=> => naming to docker\.io\/library\/tty:1/);
  // eslint-disable-next-line no-control-regex
  const plainLines = out.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").split(/\r?\n/);
  for (const line of plainLines) assert.ok(line.length <= 100, `a line of ${line.length} columns: ${line.slice(0, 120)}`);
});

test("a real build's first unpack of its base shows how far it is, in tty and plain progress (updates every 5 ms here)", async () => {
  const fresh = [await freshStore(), await freshStore()];
  const env = { ...process.env, TSBUILD_UNPACK_PROGRESS_MS: "5" };
  for (const root of fresh) await packImage(root, "busybox:local"); // as pulled, not unpacked yet
  try {
    const out = underTerminal(100, "tty:3", { TSBUILD_UNPACK_PROGRESS_MS: "5" }, fresh[0]);
    assert.match(out, / => => extracting sha256:[0-9a-f]+ +[\d.]+[kMG]?B \/ [\d.]+MB \d+\.\ds/);
    const last = out.split("[+] Building").at(-1) ?? "";
    assert.match(last, / => (CACHED )?\[1\/3\] FROM docker\.io\/library\/busybox:local +\d+\.\ds\r?\n => => extracting sha256:[0-9a-f]+ +([\d.]+MB) \/ \2 \d+\.\ds/);
    const plain = (store: string, tag: string): string => {
      const r = spawnSync(process.execPath, [TSBUILD, "--root", store, "build", "--progress", "plain", "-t", tag, ctx], { encoding: "utf8", env });
      assert.equal(r.status, 0, r.stderr);
      return r.stderr;
    };
    const first = plain(fresh[1]!, "tty:4");
    assert.match(first, /^#1 \[1\/3\] FROM docker\.io\/library\/busybox:local\n(#1 extracting sha256:[0-9a-f]{64} [\d.]+[kMG]?B \/ [\d.]+MB \d+\.\ds\n)*#1 extracting sha256:[0-9a-f]{64} ([\d.]+MB) \/ \2 \d+\.\ds done\n#1 DONE/m);
    assert.doesNotMatch(plain(fresh[1]!, "tty:5"), /extracting/, "a base unpacked before is not unpacked again");
  } finally {
    for (const f of fresh) await removeStore(f);
  }
});

test("a terminal of unknown size gets plain progress, not an empty screen", () => {
  const out = underTerminal(0, "tty:2");
  assert.doesNotMatch(out, /\[\+\] Building/);
  assert.match(out, /#\d+ \[\d\/\d\] RUN echo x+/);
  assert.match(out, /naming to docker\.io\/library\/tty:2/);
});
