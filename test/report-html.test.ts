// The HTML build report (`build --report-html`, `tsbuild report`) opened in headless Chromium: a real
// two-build sequence of testdata/report (one file changed, so some steps hit and some miss), the page
// rendered once to a screenshot and once to its DOM, and the DOM's nodes, states and fill colours
// checked against the JSON report of the same build. Chromium is Debian's (`make test` installs it).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inflateSync } from "node:zlib";
import { REPO, freshStore, removeStore, setCaseModes, tsbuild, tsbuildOk } from "./helpers.js";
import { STATE_FILL } from "../cli/report/svg.js";
import { buildGraph, isFilesystemStep } from "../cli/report/graph.js";
import { NODE } from "../cli/report/layout.js";
import type { BuildReport } from "../cli/report.js";

const WINDOW = { width: 1280, height: 900 };

function chromiumPath(): string {
  const found = spawnSync("sh", ["-c", "command -v chromium || command -v chromium-browser"], { encoding: "utf8" }).stdout.trim();
  assert.ok(found !== "", "chromium is not installed (make test installs Debian's chromium)");
  return found;
}

/** Headless Chromium with a profile, home and caches in `dir` (nothing written elsewhere). */
function chromium(dir: string, args: string[]): string {
  const env = { ...process.env, HOME: dir, XDG_CONFIG_HOME: join(dir, "config"), XDG_CACHE_HOME: join(dir, "cache") };
  return execFileSync(chromiumPath(), [
    "--headless", "--disable-gpu", "--hide-scrollbars", "--force-device-scale-factor=1", "--no-first-run",
    ...(process.getuid?.() === 0 ? ["--no-sandbox"] : []),
    `--user-data-dir=${join(dir, "profile")}`, `--window-size=${WINDOW.width},${WINDOW.height}`, ...args,
  ], { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 90_000, maxBuffer: 64 << 20 });
}

/** The pixels of an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium's screenshot writes). */
function decodePng(file: string): { width: number; height: number; pixel: (x: number, y: number) => string } {
  const buf = readFileSync(file);
  assert.equal(buf.subarray(1, 4).toString("latin1"), "PNG", `${file} is not a PNG`);
  let pos = 8;
  let width = 0, height = 0, channels = 0;
  const data: Buffer[] = [];
  while (pos < buf.length) {
    const length = buf.readUInt32BE(pos);
    const type = buf.subarray(pos + 4, pos + 8).toString("latin1");
    const body = buf.subarray(pos + 8, pos + 8 + length);
    if (type === "IHDR") {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      assert.equal(body[8], 8, "bit depth");
      assert.equal(body[12], 0, "interlace");
      channels = body[9] === 6 ? 4 : body[9] === 2 ? 3 : 0;
      assert.ok(channels > 0, `colour type ${body[9]}`);
    } else if (type === "IDAT") data.push(body);
    pos += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(data));
  const stride = width * channels;
  const out = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    for (let x = 0; x < stride; x++) {
      const v = raw[y * (stride + 1) + 1 + x]!;
      const a = x >= channels ? out[y * stride + x - channels]! : 0;
      const b = y > 0 ? out[(y - 1) * stride + x]! : 0;
      const c = x >= channels && y > 0 ? out[(y - 1) * stride + x - channels]! : 0;
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      const pred = [0, a, b, (a + b) >> 1, paeth][filter];
      assert.ok(pred !== undefined, `PNG filter ${filter}`);
      out[y * stride + x] = (v + pred) & 0xff;
    }
  }
  const hex = (n: number): string => n.toString(16).padStart(2, "0");
  return { width, height, pixel: (x, y) => `#${hex(out[y * stride + x * channels]!)}${hex(out[y * stride + x * channels + 1]!)}${hex(out[y * stride + x * channels + 2]!)}` };
}

/** Each step node of the dumped DOM: its id number, classes, data attributes and its rect's fill. */
function nodesOf(dom: string): Map<number, { classes: string[]; stage: string; line: number; state: string; fill: string; text: string }> {
  const nodes = new Map<number, { classes: string[]; stage: string; line: number; state: string; fill: string; text: string }>();
  for (const m of dom.matchAll(/<g id="step-(\d+)" class="([^"]*)" data-stage="([^"]*)" data-line="(\d+)" data-state="(\w+)">([\s\S]*?)<\/g>/g)) {
    const fill = /<rect [^>]*fill="([^"]+)"/.exec(m[6]!)?.[1] ?? "";
    nodes.set(Number(m[1]), { classes: m[2]!.split(" "), stage: m[3]!, line: Number(m[4]), state: m[5]!, fill, text: m[6]! });
  }
  return nodes;
}

describe("the HTML build report in headless Chromium", { timeout: 300_000 }, () => {
  let root: string;
  let work: string;
  let report: BuildReport;
  let html: string;

  before(async () => {
    root = await freshStore();
    work = await mkdtemp(join(tmpdir(), "tsbuild-report-html-"));
    const ctx = join(work, "ctx");
    await cp(join(REPO, "testdata", "report"), ctx, { recursive: true });
    setCaseModes(ctx, false);
    await tsbuildOk(["--root", root, "build", "-q", "-t", "report-case:1", ctx]);
    await writeFile(join(ctx, "app.txt"), "app v2, a longer line\n");
    await tsbuildOk(["--root", root, "build", "-q", "-t", "report-case:1", "--report", join(work, "build.json"), "--report-html", join(work, "build.html"), ctx]);
    report = JSON.parse(readFileSync(join(work, "build.json"), "utf8")) as BuildReport;
    html = readFileSync(join(work, "build.html"), "utf8");
  });
  after(async () => {
    await removeStore(root);
    await rm(work, { recursive: true, force: true });
  });

  it("`tsbuild report build.json -o` writes the page `build --report-html` wrote, and needs no network", async () => {
    await tsbuildOk(["report", join(work, "build.json"), "-o", join(work, "again.html")]);
    assert.equal(readFileSync(join(work, "again.html"), "utf8"), html);
    assert.doesNotMatch(html, /\b(?:src|href)\s*=|@import|url\(\s*['"]?(?:https?:|\/\/)|<script/i);
  });

  it("the report has the case's hits, misses, stage edges and advice", () => {
    const by = (line: number): BuildReport["steps"][number] => report.steps.find((s) => s.line === line)!;
    assert.equal(by(6).cached, false, "COPY . . in deps");
    assert.match(by(6).reason ?? "", /app\.txt changed/);
    assert.equal(by(10).cached, true, "COPY notes.txt in notes");
    assert.deepEqual(by(12).uses, ["deps"], "FROM deps AS build");
    assert.deepEqual(by(16).uses, ["build"], "COPY --from=build");
    assert.deepEqual(by(17).uses, ["notes"], "COPY --from=notes");
    assert.equal(report.advice.length, 1);
    assert.equal(report.advice[0]!.line, 6);
  });

  it("renders: the DOM has one node per step with the report's stage, line, state and colour; the chain and advice are shown", async (t) => {
    const profile = join(work, "chromium");
    await mkdir(profile);
    const started = performance.now();
    const dom = chromium(profile, ["--dump-dom", `file://${join(work, "build.html")}`]);
    const png = join(work, "report.png");
    chromium(profile, [`--screenshot=${png}`, `file://${join(work, "build.html")}`]);
    t.diagnostic(`two chromium runs: ${((performance.now() - started) / 1000).toFixed(1)} s`);

    const nodes = nodesOf(dom);
    assert.equal(nodes.size, report.steps.length, "one node per step");
    report.steps.forEach((s, i) => {
      const n = nodes.get(i);
      assert.ok(n, `node step-${i}`);
      const state = !isFilesystemStep(s.instruction) ? "metadata" : s.cached ? "cached" : "rebuilt";
      assert.equal(n.stage, s.stage, `step-${i} stage`);
      assert.equal(n.line, s.line, `step-${i} line`);
      assert.equal(n.state, state, `step-${i} state`);
      assert.ok(n.classes.includes(state), `step-${i} class ${state}`);
      assert.equal(n.fill, STATE_FILL[state as keyof typeof STATE_FILL], `step-${i} fill`);
      if (!s.cached && s.reason !== null) assert.ok(n.text.includes(s.reason.replace(/&/g, "&amp;").slice(0, 20)), `step-${i} shows its reason`);
    });
    // the chain: from the changed COPY in deps through the stage built FROM it into the final image;
    // the notes stage is outside it
    const inChain = (line: number): boolean => nodes.get(report.steps.findIndex((s) => s.line === line))!.classes.includes("chain");
    assert.ok(nodes.get(report.steps.findIndex((s) => s.line === 6))!.classes.includes("root"), "the changed COPY starts the chain");
    for (const line of [6, 7, 12, 13, 16, 17, 18, 19]) assert.ok(inChain(line), `line ${line} in the chain`);
    for (const line of [4, 5, 9, 10, 15]) assert.ok(!inChain(line), `line ${line} not in the chain`);
    assert.match(dom, /id="edge-\d+-\d+" class="edge cross chain"/, "a chain edge between stages");
    assert.match(dom, /<ol class="chains"><li data-root="\d+">line 6 /);
    assert.match(dom, /the chain ends at line 17 /);
    assert.match(dom, /<ul class="advice"><li data-line="6">line 6 `COPY \. \.` missed \(app\.txt changed\)/);

    // the screenshot: the window's size, and the cached and rebuilt fills painted in proportion to the
    // nodes of each state (each node's fill area, less its text, is thousands of pixels; all of them
    // fit in the window)
    assert.ok(statSync(png).size > 20_000, `screenshot of ${statSync(png).size} bytes`);
    const image = decodePng(png);
    assert.deepEqual([image.width, image.height], [WINDOW.width, WINDOW.height]);
    const counts = new Map<string, number>();
    for (let y = 0; y < image.height; y++) for (let x = 0; x < image.width; x++) {
      const c = image.pixel(x, y);
      counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    const states = [...nodes.values()].map((n) => n.state);
    for (const state of ["cached", "rebuilt"] as const) {
      const count = states.filter((s) => s === state).length;
      const painted = counts.get(STATE_FILL[state]) ?? 0;
      t.diagnostic(`${state}: ${count} nodes, ${painted} pixels of ${STATE_FILL[state]}`);
      assert.ok(painted > count * 4000 && painted < (count + 1) * NODE.width * NODE.height, `${state}: ${count} nodes, ${painted} pixels of ${STATE_FILL[state]}`);
    }
  });

  it("a file that is not a report is one line naming it and the field; so is a page that cannot be written", async () => {
    await writeFile(join(work, "bad.json"), JSON.stringify({ ...report, steps: [{ ...report.steps[0], cached: "yes" }] }));
    const bad = await tsbuild(["report", join(work, "bad.json")]);
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr.trim().split("\n").length, 1, bad.stderr);
    assert.match(bad.stderr, /bad\.json: not a tsbuild build report \(steps\[0\]\.cached/);
    await writeFile(join(work, "text.json"), "not json");
    const text = await tsbuild(["report", join(work, "text.json"), "-o", join(work, "never.html")]);
    assert.equal(text.code, 1);
    assert.match(text.stderr, /text\.json: not JSON/);
    assert.throws(() => statSync(join(work, "never.html")));
    const nowhere = await tsbuild(["report", join(work, "build.json"), "-o", join(work, "no-folder", "page.html")]);
    assert.equal(nowhere.code, 1);
    assert.match(nowhere.stderr, /^error: \S+no-folder\/page\.html: cannot write the HTML report: no such folder\n$/);
  });
});

describe("the report's graph (cli/report/graph.ts)", () => {
  type Step = BuildReport["steps"][number];
  const step = (stage: string, line: number, instruction: string, cached: boolean, reason: string | null = null, uses?: string[]): Step =>
    ({ stage, line, instruction, cached, reason, key: null, duration_ms: 10, layer_digest: null, layer_size: null, ...(uses ? { uses } : {}) });
  const reportOf = (steps: Step[]): BuildReport => ({
    version: 1, dockerfile: "/d/Dockerfile", context: "/d", success: true, error: null, image: null, steps, advice: [],
    totals: { steps: steps.length, filesystem_steps: 0, hits: 0, misses: 0, hit_ratio: 1, duration_ms: 0, time_saved_ms: 0 },
  });
  const multi = [
    step("a", 1, "FROM busybox AS a", true), step("a", 2, "COPY x .", false, "x changed"), step("a", 3, "RUN make", false, "parent step rebuilt (step 2)"),
    step("b", 5, "FROM busybox AS b", true), step("b", 6, "COPY y .", true),
    step("c", 8, "FROM busybox", true), step("c", 9, "COPY --from=a /out /out", false, "out changed", ["a"]),
    step("c", 10, "COPY --from=b /y /y", false, "parent step rebuilt (step 2)", ["b"]), step("c", 11, "CMD [\"x\"]", true),
  ];

  it("follows a chain from the first changed input across stages, and not into a stage that stayed cached", () => {
    const g = buildGraph(reportOf(multi));
    assert.deepEqual(g.stages.map((s) => [s.name, s.uses]), [["a", []], ["b", []], ["c", ["a", "b"]]]);
    assert.deepEqual(g.chains, [{ root: 1, forced: [2, 6, 7], last: [7], stopped: [] }]);
    assert.deepEqual(g.steps.filter((s) => s.inChain).map((s) => s.step.line), [2, 3, 9, 10, 11]);
    assert.ok(g.edges.some((e) => e.from === 2 && e.to === 6 && e.crossStage && e.inChain));
    assert.ok(g.edges.some((e) => e.from === 4 && e.to === 7 && e.crossStage && !e.inChain));
  });

  it("ends a chain at a hit that reads a rebuilt stage, and says so", () => {
    const g = buildGraph(reportOf(multi.map((s) => (s.line === 9 ? { ...s, cached: true, reason: null } : s.line === 10 ? { ...s, cached: true, reason: null } : s))));
    assert.deepEqual(g.chains, [{ root: 1, forced: [2], last: [2], stopped: [6] }]);
  });

  it("draws a report written before steps had `uses` from the FROM and --from words", () => {
    const g = buildGraph(reportOf(multi.map(({ uses: _uses, ...s }) => s)));
    assert.deepEqual(g.stages.map((s) => [s.name, s.uses]), [["a", []], ["b", []], ["c", ["a", "b"]]]);
  });

  it("gives a stage run again (one run per platform) a group of its own", () => {
    const g = buildGraph(reportOf([...multi, ...multi.map((s) => ({ ...s, cached: true, reason: null }))]));
    assert.deepEqual(g.stages.map((s) => [s.name, s.uses]), [
      ["a", []], ["a (2)", []], ["b", []], ["b (2)", []], ["c", ["a", "b"]], ["c (2)", ["a (2)", "b (2)"]],
    ]);
    assert.equal(g.chains.length, 1);
  });
});
