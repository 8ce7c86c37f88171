import { test } from "node:test";
import assert from "node:assert/strict";
import { sha256, type Digest } from "../common/digest.js";
import { explainMiss, type ExplainContext } from "./explain.js";
import type { StepRecord } from "./key.js";
import type { FileDigestEntry, FileType } from "./filedigest.js";

const file = (path: string, content: string, mode = 0o644, type: FileType = "file"): FileDigestEntry => ({
  path,
  digest: sha256(`${type}:${mode}:${content}`),
  mode,
  type,
});
const dir = (path: string, mode = 0o755): FileDigestEntry => ({ path, digest: sha256(`dir ${path} ${mode}`), mode, type: "dir" });
const inputs = (...files: FileDigestEntry[]): { digest: Digest; files: FileDigestEntry[] } => ({
  digest: sha256(JSON.stringify(files)),
  files: [...files].sort((a, b) => (a.path < b.path ? -1 : 1)),
});

const srcFiles = [dir("src"), file("src/index.js", "1"), dir("src/lib"), file("src/lib/util.js", "u"), file("run.sh", "#!")];

function rec(over: Partial<StepRecord> = {}): StepRecord {
  return {
    parentKey: sha256("parent"),
    instruction: "RUN",
    text: "RUN make",
    definition: { argv: ["/bin/sh", "-c", "make"], env: ["PATH=/bin", "LOG_LEVEL=info"], workdir: "/app", user: "" },
    buildArgs: { VERSION: "1" },
    inputs: inputs(...srcFiles),
    ...over,
  };
}

const cases: Array<[string, StepRecord | undefined, StepRecord, ExplainContext, string]> = [
  ["no cache wins over all", rec(), rec({ text: "RUN x" }), { noCache: true, parentRebuiltStep: 2 }, "--no-cache"],
  ["no previous record", undefined, rec(), {}, "not built before"],
  ["parent rebuilt", rec(), rec({ parentKey: sha256("p2") }), { parentRebuiltStep: 3 }, "parent step rebuilt (step 3)"],
  ["base image", rec(), rec({ parentKey: sha256("new base"), text: "RUN y" }), {}, "base image changed"],
  ["parent hit another entry", rec(), rec({ parentKey: sha256("p3") }), { isFirstStep: false }, "parent step changed"],
  ["text", rec(), rec({ text: "RUN make all", buildArgs: { VERSION: "2" } }), {}, "instruction text changed"],
  ["build arg changed", rec(), rec({ buildArgs: { VERSION: "2" } }), {}, "build arg VERSION changed (1 → 2)"],
  ["build arg added", rec(), rec({ buildArgs: { VERSION: "1", UNUSED: "y" } }), {}, "build arg UNUSED added (y)"],
  ["build arg removed", rec(), rec({ buildArgs: {} }), {}, "build arg VERSION removed"],
  [
    "env",
    rec(),
    rec({ definition: { ...rec().definition, env: ["PATH=/bin", "LOG_LEVEL=debug"] } }),
    {},
    "ENV LOG_LEVEL changed",
  ],
  ["env added", rec(), rec({ definition: { ...rec().definition, env: ["PATH=/bin", "LOG_LEVEL=info", "X=1"] } }), {}, "ENV X added"],
  ["env removed", rec(), rec({ definition: { ...rec().definition, env: ["PATH=/bin"] } }), {}, "ENV LOG_LEVEL removed"],
  ["workdir", rec(), rec({ definition: { ...rec().definition, workdir: "/src" } }), {}, "WORKDIR changed (/app → /src)"],
  ["user", rec(), rec({ definition: { ...rec().definition, user: "app" } }), {}, 'USER changed ("" → app)'],
  ["shell", rec(), rec({ definition: { ...rec().definition, shell: ["/bin/bash", "-c"] } }), {}, "SHELL changed"],
  [
    "shell-form RUN after a SHELL change",
    rec(),
    rec({ definition: { ...rec().definition, argv: ["/bin/sh", "-e", "-c", "make"] } }),
    {},
    "SHELL changed (/bin/sh -c → /bin/sh -e -c)",
  ],
  ["command", rec(), rec({ definition: { ...rec().definition, argv: ["/bin/sh", "-c", "make all"] } }), {}, "command changed"],
  ["settings before the command", rec(), rec({ definition: { ...rec().definition, argv: ["x"], user: "1" } }), {}, 'USER changed ("" → 1)'],
  ["other definition member", rec(), rec({ definition: { ...rec().definition, network: "host" } }), {}, "network mode changed (none → host)"],
  [
    "one file changed",
    rec(),
    rec({ inputs: inputs(dir("src"), file("src/index.js", "2"), dir("src/lib"), file("src/lib/util.js", "u"), file("run.sh", "#!")) }),
    {},
    "src/index.js changed",
  ],
  [
    "files added",
    rec(),
    rec({ inputs: inputs(...srcFiles, file("src/a.js", "a"), file("src/b.js", "b"), file("src/c.js", "c")) }),
    {},
    "3 files added under src/ (src/a.js, src/b.js, …)",
  ],
  [
    "a file removed",
    rec(),
    rec({ inputs: inputs(dir("src"), file("src/index.js", "1"), dir("src/lib"), file("run.sh", "#!")) }),
    {},
    "src/lib/util.js removed",
  ],
  [
    "a folder with its files removed",
    rec({ inputs: inputs(...srcFiles, dir("src/gen"), file("src/gen/x.js", "x"), file("src/gen/y.js", "y")) }),
    rec(),
    {},
    "2 files removed under src/gen/ (src/gen/x.js, src/gen/y.js)",
  ],
  [
    "mode",
    rec(),
    rec({ inputs: inputs(dir("src"), file("src/index.js", "1"), dir("src/lib"), file("src/lib/util.js", "u"), file("run.sh", "#!", 0o755)) }),
    {},
    "mode of run.sh changed 644→755",
  ],
  [
    "rename",
    rec(),
    rec({ inputs: inputs(dir("src"), file("src/index.js", "1"), dir("src/lib"), file("src/lib/helpers.js", "u"), file("run.sh", "#!")) }),
    {},
    "src/lib/util.js renamed to src/lib/helpers.js",
  ],
  [
    "type",
    rec(),
    rec({ inputs: inputs(dir("src"), file("src/index.js", "1", 0o777, "symlink"), dir("src/lib"), file("src/lib/util.js", "u"), file("run.sh", "#!")) }),
    {},
    "src/index.js changed from file to symlink",
  ],
  [
    "changed and added",
    rec(),
    rec({ inputs: inputs(dir("src"), file("src/index.js", "2"), dir("src/lib"), file("src/lib/util.js", "u"), file("run.sh", "#!"), file("new.txt", "n")) }),
    {},
    "src/index.js changed; new.txt added",
  ],
  ["empty folder added", rec(), rec({ inputs: inputs(...srcFiles, dir("src/empty")) }), {}, "src/empty added"],
  [
    "a folder's mode is not named beside a real change",
    rec(),
    rec({ inputs: inputs(dir("src", 0o700), file("src/index.js", "2"), dir("src/lib"), file("src/lib/util.js", "u"), file("run.sh", "#!")) }),
    {},
    "src/index.js changed",
  ],
  ["inputs appeared", rec({ inputs: undefined }), rec(), {}, "inputs changed"],
  ["nothing differs: the entry is gone", rec(), rec(), {}, "cache entry missing (pruned or never stored)"],
];

for (const [name, prev, cur, ctx, expected] of cases) {
  test(`explainMiss: ${name}`, () => {
    assert.equal(explainMiss(prev, cur, ctx), expected);
  });
}
