import { test } from "node:test";
import assert from "node:assert/strict";
import { DockerfileError } from "../../common/errors.js";
import { parseDockerfile } from "../parser/index.js";
import { envFrom } from "../shell/index.js";
import { expandInstruction, parseInstruction, parseStages } from "./index.js";
import type { Instruction } from "./index.js";

function one(line: string): Instruction {
  const parsed = parseDockerfile(line + "\n", "Dockerfile");
  return parseInstruction(parsed.nodes[0]!, "Dockerfile");
}

function rejects(text: string, message: string): void {
  assert.throws(
    () => parseStages(parseDockerfile(text, "Dockerfile")),
    (e: unknown) => e instanceof DockerfileError && e.message === message,
  );
}

test("COPY flags and sources", () => {
  const c = one("COPY --from=build --chown=1:2 --chmod=0755 --link --exclude=*.md --exclude=x a b /dst/");
  assert.equal(c.kind, "COPY");
  if (c.kind !== "COPY") return;
  assert.deepEqual(c.sources, ["a", "b"]);
  assert.equal(c.dest, "/dst/");
  assert.equal(c.from, "build");
  assert.equal(c.chown, "1:2");
  assert.equal(c.chmod, "0755");
  assert.equal(c.link, true);
  assert.equal(c.parents, false);
  assert.deepEqual(c.excludes, ["*.md", "x"]);
  assert.deepEqual(c.place, { file: "Dockerfile", line: 1, endLine: 1 });
});

test("ADD flags; COPY flags ADD does not take are unknown", () => {
  const a = one("ADD --checksum=sha256:abc --keep-git-dir=true https://x/y /y");
  assert.ok(a.kind === "ADD" && a.checksum === "sha256:abc" && a.keepGitDir);
  rejects("FROM s\nADD --from=x a b\n", "Dockerfile:2: unknown flag: --from");
  rejects("FROM s\nCOPY --foo a b\n", "Dockerfile:2: unknown flag: --foo");
  rejects("FROM s\nCOPY --link=maybe a b\n", "Dockerfile:2: expecting boolean value for flag --link, not: maybe");
  rejects("FROM s\nCOPY --from a b\n", "Dockerfile:2: missing a value on flag: --from");
  rejects("FROM s\nCOPY onlyone\n", "Dockerfile:2: COPY requires at least two arguments, but only one was provided. Destination could not be determined");
});

test("unknown instruction names the line and the keyword as written", () => {
  rejects("FROM s\n\nfoo bar\n", "Dockerfile:3: unknown instruction: FOO");
});

test("RUN, CMD, ENTRYPOINT: shell form, exec form, invalid JSON falls back to shell", () => {
  const shell = one("RUN echo hi && true");
  assert.ok(shell.kind === "RUN");
  assert.deepEqual(shell.command, { cmdLine: ["echo hi && true"], prependShell: true, files: [] });
  const exec = one('CMD ["a", "b c"]');
  assert.ok(exec.kind === "CMD");
  assert.deepEqual(exec.command.cmdLine, ["a", "b c"]);
  assert.equal(exec.command.prependShell, false);
  const bad = one("ENTRYPOINT ['a']");
  assert.ok(bad.kind === "ENTRYPOINT");
  assert.deepEqual(bad.command.cmdLine, ["['a']"]);
  assert.equal(bad.command.prependShell, true);
});

test("RUN flags: --mount repeated, --network and --security checked", () => {
  const r = one("RUN --mount=type=cache,target=/c --mount=type=tmpfs,target=/t --network=none echo");
  assert.ok(r.kind === "RUN");
  assert.deepEqual(r.mounts, ["type=cache,target=/c", "type=tmpfs,target=/t"]);
  assert.equal(r.network, "none");
  rejects("FROM s\nRUN --network=bridge x\n", 'Dockerfile:2: unsupported network mode "bridge"');
  rejects("FROM s\nRUN --network=host --network=none x\n", "Dockerfile:2: duplicate flag specified: --network");
});

test("RUN heredoc becomes a file", () => {
  const parsed = parseDockerfile("FROM s\nRUN <<EOF\necho hi\nEOF\n", "Dockerfile");
  const r = parseInstruction(parsed.nodes[1]!, "Dockerfile");
  assert.ok(r.kind === "RUN");
  assert.deepEqual(r.command.files, [{ name: "EOF", data: "echo hi\n", chomp: false, expand: true }]);
  assert.deepEqual(r.place, { file: "Dockerfile", line: 2, endLine: 4 });
});

test("ENV and LABEL pairs, legacy form", () => {
  const e = one('ENV a=1 b="two words" c=');
  assert.ok(e.kind === "ENV");
  assert.deepEqual(e.env, [
    { key: "a", value: "1", noDelim: false },
    { key: "b", value: '"two words"', noDelim: false },
    { key: "c", value: "", noDelim: false },
  ]);
  const legacy = one("ENV PATH /a b");
  assert.ok(legacy.kind === "ENV");
  assert.deepEqual(legacy.env, [{ key: "PATH", value: "/a b", noDelim: true }]);
  rejects("FROM s\nLABEL a=1 b\n", 'Dockerfile:2: Syntax error - can\'t find = in "b". Must be of the form: name=value');
  rejects("FROM s\nENV =x\n", "Dockerfile:2: ENV names can not be blank");
});

test("ARG: several per line, with and without defaults", () => {
  const a = one('ARG A B=2 C="x y"');
  assert.ok(a.kind === "ARG");
  assert.deepEqual(a.args, [{ key: "A" }, { key: "B", value: "2" }, { key: "C", value: '"x y"' }]);
});

test("HEALTHCHECK: NONE, CMD forms, flags, errors", () => {
  const none = one("HEALTHCHECK NONE");
  assert.ok(none.kind === "HEALTHCHECK");
  assert.deepEqual(none.health.test, ["NONE"]);
  const h = one("HEALTHCHECK --interval=1m30s --timeout=3s --start-period=500ms --retries=4 CMD curl -f x");
  assert.ok(h.kind === "HEALTHCHECK");
  assert.deepEqual(h.health, {
    test: ["CMD-SHELL", "curl -f x"],
    interval: 90e9,
    timeout: 3e9,
    startPeriod: 5e8,
    startInterval: 0,
    retries: 4,
  });
  const j = one('HEALTHCHECK CMD ["true"]');
  assert.ok(j.kind === "HEALTHCHECK");
  assert.deepEqual(j.health.test, ["CMD", "true"]);
  rejects("FROM s\nHEALTHCHECK CONNECT TCP 7000\n", 'Dockerfile:2: Unknown type "CONNECT" in HEALTHCHECK (try CMD)');
  rejects("FROM s\nHEALTHCHECK CMD\n", "Dockerfile:2: Missing command after HEALTHCHECK CMD");
  rejects("FROM s\nHEALTHCHECK --interval=1us CMD x\n", 'Dockerfile:2: Interval "interval" cannot be less than 1ms');
  rejects("FROM s\nHEALTHCHECK NONE x\n", "Dockerfile:2: HEALTHCHECK NONE takes no arguments");
});

test("ONBUILD validation", () => {
  const o = one("ONBUILD RUN echo hi");
  assert.ok(o.kind === "ONBUILD");
  assert.equal(o.expression, "RUN echo hi");
  assert.equal(o.trigger, "RUN");
  rejects("FROM s\nONBUILD ONBUILD RUN x\n", "Dockerfile:2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  rejects("FROM s\nONBUILD FROM x\n", "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger");
  rejects("FROM s\nonbuild maintainer me\n", "Dockerfile:2: MAINTAINER isn't allowed as an ONBUILD trigger");
});

test("SHELL must be JSON; VOLUME, EXPOSE, WORKDIR, USER", () => {
  rejects("FROM s\nSHELL /bin/sh -c\n", "Dockerfile:2: SHELL requires the arguments to be in JSON form");
  const s = one('SHELL ["/bin/bash", "-c"]');
  assert.ok(s.kind === "SHELL");
  assert.deepEqual(s.shell, ["/bin/bash", "-c"]);
  const v = one("VOLUME /a /b");
  assert.ok(v.kind === "VOLUME");
  assert.deepEqual(v.volumes, ["/a", "/b"]);
  const e = one("EXPOSE 8080 443/tcp 80");
  assert.ok(e.kind === "EXPOSE");
  assert.deepEqual(e.ports, ["443/tcp", "80", "8080"]);
  rejects("FROM s\nWORKDIR\n", "Dockerfile:2: WORKDIR requires exactly one argument");
});

test("FROM: platform, AS name lowercased and validated", () => {
  const f = one("FROM --platform=linux/amd64 busybox AS Build");
  assert.ok(f.kind === "FROM");
  assert.equal(f.baseName, "busybox");
  assert.equal(f.stageName, "build");
  assert.equal(f.platform, "linux/amd64");
  rejects("FROM busybox AS 1st\n", 'Dockerfile:1: invalid name for build stage: "1st", name can\'t start with a number or contain symbols');
  rejects("FROM busybox AS\n", "Dockerfile:1: FROM requires either one or three arguments");
  // BuildKit 0.13 builds a stage named scratch or context; later releases warn (stages.ts warns)
  assert.deepEqual(parseStages(parseDockerfile("FROM busybox AS scratch\n", "Dockerfile")).warnings, ['Dockerfile:1: "scratch" is a reserved word and should not be used as a stage name']);
});

test("stages: meta args, names, errors before FROM", () => {
  const text = "ARG BASE=busybox\nARG V\nFROM $BASE AS one\nRUN x\nFROM one\nCOPY --from=one /a /b\n";
  const { metaArgs, stages } = parseStages(parseDockerfile(text, "Dockerfile"));
  assert.equal(metaArgs.length, 2);
  assert.equal(stages.length, 2);
  assert.equal(stages[0]!.name, "one");
  assert.equal(stages[0]!.instructions.length, 1);
  assert.equal(stages[1]!.name, undefined);
  assert.equal(stages[1]!.index, 1);
  rejects("ARG A\nRUN x\nFROM s\n", "Dockerfile:2: no build stage in current context");
  assert.deepEqual(parseStages(parseDockerfile("FROM a AS x\nFROM b AS X\n", "Dockerfile")).warnings, ['Dockerfile:2: duplicate stage name "x", stage names should be unique']);
  rejects("ARG A\n", "Dockerfile:1: dockerfile contains no stages to build");
});

test("expansion: COPY words and flags, used variables, heredoc bodies", () => {
  const env = envFrom({ SRC: "app", DST: "/opt", U: "1000", STAGE: "build", X: "x" });
  const text = 'FROM s\nCOPY --from=$STAGE --chown=${U}:${G:-0} $SRC/* ${DST}/dir\nCOPY <<A <<"B" /d/\n$X\nA\n$X\nB\n';
  const parsed = parseDockerfile(text, "Dockerfile");
  const c = expandInstruction(parseInstruction(parsed.nodes[1]!, "Dockerfile"), env);
  assert.ok(c.instruction.kind === "COPY");
  assert.deepEqual(c.instruction.sources, ["app/*"]);
  assert.equal(c.instruction.dest, "/opt/dir");
  assert.equal(c.instruction.from, "build");
  assert.equal(c.instruction.chown, "1000:0");
  assert.deepEqual([...c.used].sort(), ["DST", "G", "SRC", "STAGE", "U"]);
  const h = expandInstruction(parseInstruction(parsed.nodes[2]!, "Dockerfile"), env);
  assert.ok(h.instruction.kind === "COPY");
  assert.deepEqual(h.instruction.contents.map((x) => x.data), ["x\n", "$X\n"]);
});

test("expansion leaves RUN alone and reports errors at the line", () => {
  const parsed = parseDockerfile("FROM s\nRUN echo $X\nWORKDIR ${X:?needs X}\nEXPOSE $PORTS\n", "Dockerfile");
  const env = envFrom({ X: "x", PORTS: "80 443" });
  const run = expandInstruction(parseInstruction(parsed.nodes[1]!, "Dockerfile"), env);
  assert.ok(run.instruction.kind === "RUN");
  assert.deepEqual(run.instruction.command.cmdLine, ["echo $X"]);
  assert.equal(run.used.size, 0);
  assert.throws(
    () => expandInstruction(parseInstruction(parsed.nodes[2]!, "Dockerfile"), envFrom({})),
    (e: unknown) => e instanceof DockerfileError && e.message === 'Dockerfile:3: failed to process "${X:?needs X}": X: needs X',
  );
  const expose = expandInstruction(parseInstruction(parsed.nodes[3]!, "Dockerfile"), env);
  assert.ok(expose.instruction.kind === "EXPOSE");
  assert.deepEqual(expose.instruction.ports, ["80", "443"]);
});

test("expansion of ENV, ARG defaults and FROM with meta args", () => {
  const parsed = parseDockerfile('FROM ${IMG}:${TAG:-latest}\nENV A=$B C="$B d"\nARG E=${B}x\n', "Dockerfile");
  const env = envFrom({ IMG: "busybox", B: "b" });
  const from = expandInstruction(parseInstruction(parsed.nodes[0]!, "Dockerfile"), env);
  assert.ok(from.instruction.kind === "FROM");
  assert.equal(from.instruction.baseName, "busybox:latest");
  const e = expandInstruction(parseInstruction(parsed.nodes[1]!, "Dockerfile"), env);
  assert.ok(e.instruction.kind === "ENV");
  assert.deepEqual(e.instruction.env.map((p) => [p.key, p.value]), [["A", "b"], ["C", "b d"]]);
  const a = expandInstruction(parseInstruction(parsed.nodes[2]!, "Dockerfile"), env);
  assert.ok(a.instruction.kind === "ARG");
  assert.deepEqual(a.instruction.args, [{ key: "E", value: "bx" }]);
  const blank = parseDockerfile("FROM $NOPE\n", "Dockerfile");
  assert.throws(() => expandInstruction(parseInstruction(blank.nodes[0]!, "Dockerfile"), env), /base name \(\$NOPE\) should not be blank/);
});
