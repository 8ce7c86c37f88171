// Real builds through bin/tsbuild compared with BuildKit's recorded results: for every case in
// testdata/cases (expected.json beside it) and in ../shared/cases (testdata/cases/public-expected/NAME.json),
// the final image's config and merged files, the cache decisions of every build of a sequence, and
// the refusal of cases BuildKit refuses. Recorded with testdata/cases/record.sh; no daemon needed here.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { describe, it } from "node:test";
import { compareSummaries, summarizeArchive } from "./imgtree.js";
import { laterReleaseHistory } from "./laterfixes.js";
import {
  cachePattern, caseDirs, freshStore, loadCase, OWN_CASES, PUBLIC_CASES, PUBLIC_EXPECTED, readExpected,
  removeStore, setCaseModes, tsbuild, type CachePattern,
} from "./helpers.js";

// Files whose bytes embed build-time clocks (`ls -l` prints mtimes to the minute), so no two builds
// agree on them: compared on everything but content. Only for public cases, which we cannot edit.
const VOLATILE: Record<string, string[]> = { "public/workdir-user": ["/listing"] };

// Ported BuildKit integration-test cases (testdata/cases/bk-*) that tsbuild fails today, each with its
// cause: testdata/cases/bk-KNOWN-FAILURES.md, lines "- `bk-name`[, `bk-other`]: cause". Such a case still
// runs; its failure marks it skipped, and a listed case that passes fails, so the list stays honest.
const KNOWN_FAILURES_FILE = join(OWN_CASES, "bk-KNOWN-FAILURES.md");
function knownFailures(text: string): Map<string, string> {
  const known = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^\s*[-*]\s+((?:`bk-[\w.-]+`[,\s]*)+):?\s*(.*)$/.exec(line);
    if (!m) continue;
    for (const [, name] of m[1]!.matchAll(/`(bk-[\w.-]+)`/g)) known.set(name!, m[2]!.trim());
  }
  return known;
}
const KNOWN = existsSync(KNOWN_FAILURES_FILE) ? knownFailures(readFileSync(KNOWN_FAILURES_FILE, "utf8")) : new Map<string, string>();

const cases = [
  ...caseDirs(OWN_CASES).map((dir) => ({ dir, expected: join(dir, "expected.json") })),
  ...caseDirs(PUBLIC_CASES).map((dir) => ({ dir, expected: join(PUBLIC_EXPECTED, `${basename(dir)}.json`) })),
];

async function runCase(caseDir: string, expectedFile: string, volatile: string[]): Promise<void> {
  assert.ok(existsSync(expectedFile), `no recorded result ${expectedFile} (run testdata/cases/record.sh)`);
  const expected = readExpected(expectedFile);
  const spec = loadCase(caseDir);
  const root = await freshStore();
  const work = await mkdtemp(join(tmpdir(), "tsbuild-test-case-"));
  try {
    await cp(caseDir, work, { recursive: true, verbatimSymlinks: true });
    setCaseModes(work, caseDir.startsWith(PUBLIC_CASES));
    const tag = `case-${basename(caseDir).toLowerCase()}:test`;
    const patterns: CachePattern[] = [];
    const outputs: string[] = [];
    for (const [i, step] of spec.sequence.entries()) {
      if (step.run) execFileSync("bash", ["-c", step.run], { cwd: work });
      const report = join(work, `.report-${i}.json`);
      const args = ["--root", root, "build", "--progress", "plain", "--report", report, "-t", tag,
        "-f", join(work, spec.dockerfile)];
      for (const [k, v] of Object.entries({ ...spec.build_args, ...step.build_args })) args.push("--build-arg", `${k}=${v}`);
      if (spec.target) args.push("--target", spec.target);
      args.push(join(work, spec.context));
      const r = await tsbuild(args);
      outputs.push(r.stderr.slice(-1500));
      if (expected.expect_fail) {
        if (r.code !== 0) return;
        continue;
      }
      assert.equal(r.code, 0, `build ${i} failed:\n${r.stdout.slice(-1500)}\n${r.stderr.slice(-1500)}`);
      patterns.push(cachePattern(JSON.parse(readFileSync(report, "utf8")) as Parameters<typeof cachePattern>[0]));
    }
    assert.ok(!expected.expect_fail, "BuildKit refuses this case, tsbuild built it");
    if (spec.sequence.length > 1) {
      assert.deepEqual(patterns, expected.expected_cache, "cache decisions per build differ from BuildKit's");
    }
    const archive = join(work, ".image.tar");
    const saved = await tsbuild(["--root", root, "save", tag, "-o", archive]);
    assert.equal(saved.code, 0, `save failed: ${saved.stderr}`);
    const actual = await summarizeArchive(archive);
    for (const p of volatile) {
      for (const files of [expected.files, actual.files]) if (files[p]) delete files[p].sha256;
    }
    // recorded 0.13 wording where tsbuild follows a later BuildKit's fix (test/laterfixes.ts)
    expected.history = expected.history?.map((h) => ({ ...h, created_by: laterReleaseHistory(h.created_by) }));
    const diffs = compareSummaries(expected, actual);
    assert.deepEqual(diffs.slice(0, 25), [], `${diffs.length} differences from BuildKit`);
  } finally {
    await rm(work, { recursive: true, force: true });
    await removeStore(root);
  }
}

describe("builds match BuildKit's recorded results", { concurrency: 4 }, () => {
  it("finds the cases", () => {
    assert.ok(caseDirs(OWN_CASES).length >= 10, "testdata/cases holds at least 10 cases");
    const names = new Set(caseDirs(OWN_CASES).map((d) => basename(d)));
    for (const name of KNOWN.keys()) assert.ok(names.has(name), `bk-KNOWN-FAILURES.md lists ${name}, which is no case folder`);
  });
  for (const c of cases) {
    const label = c.dir.startsWith(OWN_CASES) ? basename(c.dir) : `public/${basename(c.dir)}`;
    const known = KNOWN.get(label);
    if (known === undefined) {
      it(label, { timeout: 240_000 }, () => runCase(c.dir, c.expected, VOLATILE[label] ?? []));
      continue;
    }
    it(label, { timeout: 240_000 }, async (t) => {
      try {
        await runCase(c.dir, c.expected, VOLATILE[label] ?? []);
      } catch {
        t.skip(`known failure (bk-KNOWN-FAILURES.md): ${known}`);
        return;
      }
      assert.fail(`${label} is listed in bk-KNOWN-FAILURES.md but now matches BuildKit: remove it from the list`);
    });
  }
});

describe("independent stages", () => {
  // Not a timing test: the two RUN steps' start and done events must overlap (each starts before the
  // other is done), which a scheduler running them one after the other can never produce.
  it("run concurrently (the two RUN branches' steps overlap)", { timeout: 120_000 }, async () => {
    const root = await freshStore();
    const work = await mkdtemp(join(tmpdir(), "tsbuild-test-par-"));
    try {
      await writeFile(join(work, "Dockerfile"), [
        "FROM busybox:local AS left", "RUN sleep 2 && echo left > /out",
        "FROM busybox:local AS right", "RUN sleep 2 && echo right > /out",
        "FROM busybox:local", "COPY --from=left /out /left", "COPY --from=right /out /right", "",
      ].join("\n"));
      const r = await tsbuild(["--root", root, "build", "--progress", "json", "-t", "par:1", work]);
      assert.equal(r.code, 0, r.stderr);
      const at = new Map<string, number>();
      for (const line of `${r.stdout}\n${r.stderr}`.split("\n")) {
        if (!line.startsWith("{")) continue;
        const e = JSON.parse(line) as { type: string; time: string; step?: { line: number; instruction: string } };
        if (e.step === undefined || !e.step.instruction.startsWith("RUN")) continue;
        if (e.type === "step-start" || e.type === "step-done") at.set(`${e.type} ${e.step.line}`, Date.parse(e.time));
      }
      const [s2, d2, s4, d4] = ["step-start 2", "step-done 2", "step-start 4", "step-done 4"].map((k) => {
        const t = at.get(k);
        assert.ok(t !== undefined, `no ${k} event in ${(r.stdout + r.stderr).slice(0, 2000)}`);
        return t;
      });
      assert.ok(s2 < d4 && s4 < d2, `the branches ran one after the other: line 2 ${s2}..${d2}, line 4 ${s4}..${d4}`);
    } finally {
      await rm(work, { recursive: true, force: true });
      await removeStore(root);
    }
  });
});

describe("ONBUILD of a base image", () => {
  // BuildKit (dockerd 26), recorded by hand: the child runs the parent's triggers in order, keeps their
  // ENV, and its own config has no OnBuild; /seen.txt holds "triggered\n".
  it("runs the triggers in the child and clears OnBuild", { timeout: 120_000 }, async () => {
    const root = await freshStore();
    const work = await mkdtemp(join(tmpdir(), "tsbuild-test-onbuild-"));
    try {
      await writeFile(join(work, "parent.Dockerfile"), "FROM busybox:local\nONBUILD RUN echo triggered > /onbuild.txt\n"
        + "ONBUILD ENV TRIGGERED=yes\nRUN echo parent > /parent.txt\n");
      await writeFile(join(work, "child.Dockerfile"), "FROM onbuild-parent:1\nRUN cat /onbuild.txt > /seen.txt\n");
      for (const [df, tag] of [["parent", "onbuild-parent:1"], ["child", "onbuild-child:1"]] as const) {
        const r = await tsbuild(["--root", root, "build", "-q", "-t", tag, "-f", join(work, `${df}.Dockerfile`), work]);
        assert.equal(r.code, 0, r.stderr);
      }
      const archive = join(work, "child.tar");
      assert.equal((await tsbuild(["--root", root, "save", "onbuild-child:1", "-o", archive])).code, 0);
      const s = await summarizeArchive(archive);
      assert.deepEqual(s.config, { Cmd: ["sh"], Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TRIGGERED=yes"] });
      const triggered = "e561b28a834f81fd657b35cacc83652932ec44c62e4500a6bb15bad2443d368e";
      assert.equal(s.files["/onbuild.txt"]?.sha256, triggered);
      assert.equal(s.files["/seen.txt"]?.sha256, triggered);
    } finally {
      await rm(work, { recursive: true, force: true });
      await removeStore(root);
    }
  });
});

describe("later BuildKit fixes (testdata/oracle-differences.md)", () => {
  // moby/buildkit#5383, fixed in v0.27 (its testRunShebangHeredoc gained the `<<-` half): the shebang is
  // looked for after `<<-` removed the leading tabs; BuildKit 0.13 ran such a heredoc through /bin/sh.
  it("a <<- heredoc whose #! follows tabs runs its interpreter", { timeout: 120_000 }, async () => {
    const root = await freshStore();
    const work = await mkdtemp(join(tmpdir(), "tsbuild-test-shebang-"));
    try {
      await writeFile(join(work, "Dockerfile"), [
        "FROM busybox:local", "WORKDIR /dest",
        "RUN <<EOF", "#!/bin/awk -f", "BEGIN {", "\tprint \"hello\" >> \"./out1\"", "\tprint \"world\" >> \"./out1\"", "}", "EOF",
        "RUN <<-EOF", "\t#!/bin/awk -f", "\tBEGIN {", "\t\tprint \"hello\" >> \"./out2\"", "\t\tprint \"world\" >> \"./out2\"", "\t}", "EOF",
        "",
      ].join("\n"));
      const r = await tsbuild(["--root", root, "build", "-q", "--network", "none", "-t", "shebang:1", work]);
      assert.equal(r.code, 0, r.stderr);
      const archive = join(work, "image.tar");
      assert.equal((await tsbuild(["--root", root, "save", "shebang:1", "-o", archive])).code, 0);
      const s = await summarizeArchive(archive);
      const helloWorld = "4a1e67f2fe1d1cc7b31d0ca2ec441da4778203a036a77da10344c85e24ff0f92";
      for (const f of ["/dest/out1", "/dest/out2"]) assert.equal(s.files[f]?.sha256, helloWorld, f);
      assert.equal(s.history.at(-1)?.created_by, "RUN /bin/sh -c /dev/pipes/EOF # buildkit");
    } finally {
      await rm(work, { recursive: true, force: true });
      await removeStore(root);
    }
  });
});

describe("image identity across rebuilds", () => {
  // BuildKit (dockerd 26) dates the image and its metadata history entries by the layers' own build
  // times, so a rebuild that takes every step from the cache gives the same image ID and leaves no
  // dangling image; after an edit only the rebuilt layers (and what follows them) get a new time.
  it("an all-cached rebuild keeps the image ID; an edit dates only the rebuilt layers", { timeout: 120_000 }, async () => {
    const root = await freshStore();
    const work = await mkdtemp(join(tmpdir(), "tsbuild-test-identity-"));
    try {
      await writeFile(join(work, "Dockerfile"), "FROM busybox:local\nENV A=1\nRUN echo one > /one\nCOPY f /f\nLABEL x=y\n");
      await writeFile(join(work, "f"), "first\n");
      const build = async (): Promise<string> => {
        const r = await tsbuild(["--root", root, "build", "-q", "--network", "none", "-t", "identity:1", work]);
        assert.equal(r.code, 0, r.stderr);
        return r.stdout.trim();
      };
      const first = await build();
      await new Promise((r) => setTimeout(r, 1100)); // a later second, were anything dated "now"
      assert.equal(await build(), first);
      const images = await tsbuild(["--root", root, "images", "-q", "--filter", "dangling=true"]);
      assert.equal(images.stdout.trim(), "", "no dangling image");
      // The image ID is its config's digest, a blob of the store (an OCI layout).
      const history = (id: string): Array<{ created: string; created_by?: string }> =>
        (JSON.parse(readFileSync(join(root, "blobs", "sha256", id.replace(/^sha256:/, "")), "utf8")) as {
          history: Array<{ created: string; created_by?: string }>;
        }).history;
      const before = history(first);
      await writeFile(join(work, "f"), "second\n");
      const edited = await build();
      assert.notEqual(edited, first);
      const after = history(edited);
      const at = (h: typeof before, prefix: string) => h.find((e) => e.created_by?.startsWith(prefix))?.created;
      assert.equal(at(after, "RUN"), at(before, "RUN"), "the cached RUN keeps its time");
      assert.equal(at(after, "ENV"), at(before, "ENV"), "ENV before the first new layer: that layer's time");
      assert.notEqual(at(after, "COPY"), at(before, "COPY"), "the rebuilt COPY is dated anew");
      assert.equal(at(after, "LABEL"), at(after, "COPY"), "LABEL takes the time of the layer before it");
    } finally {
      await rm(work, { recursive: true, force: true });
      await removeStore(root);
    }
  });
});
