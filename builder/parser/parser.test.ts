import { test } from "node:test";
import assert from "node:assert/strict";
import { DockerfileError } from "../../common/errors.js";
import { chompHeredocContent, dumpDockerfile, parseDockerfile } from "./index.js";

test("heredocs: body, quoted delimiter, chomp, ONBUILD, JSON form has none", () => {
  const text = [
    "# syntax=docker/dockerfile:1",
    "FROM busybox",
    "RUN <<EOF",
    "echo $HOME",
    "EOF",
    'COPY <<-"A" <<B /dst/',
    "\tline a",
    "\tA",
    "b $X",
    "B",
    "ONBUILD RUN <<X cat",
    "hi",
    "X",
    'RUN ["echo", "<<EOF"]',
    "",
  ].join("\n");
  const p = parseDockerfile(text, "Dockerfile");
  assert.deepEqual(p.directives, { syntax: "docker/dockerfile:1" });
  assert.equal(p.warnings.length, 1);
  assert.deepEqual(p.nodes[1]!.heredocs, [{ name: "EOF", chomp: false, expand: true, content: "echo $HOME\n" }]);
  assert.deepEqual([p.nodes[1]!.startLine, p.nodes[1]!.endLine], [3, 5]);
  assert.deepEqual(p.nodes[2]!.heredocs, [
    { name: "A", chomp: true, expand: false, content: "\tline a\n" },
    { name: "B", chomp: false, expand: true, content: "b $X\n" },
  ]);
  assert.equal(chompHeredocContent("\tline a\n\t\tb\n"), "line a\nb\n");
  assert.equal(p.nodes[3]!.heredocs[0]!.content, "hi\n");
  assert.equal(p.nodes[4]!.heredocs.length, 0);
  assert.equal(
    dumpDockerfile(p),
    '(from "busybox")\n(run "<<EOF")\n(copy "<<-\\"A\\"" "<<B" "/dst/")\n(onbuild (run "<<X cat"))\n(run "echo" "<<EOF")',
  );
});

test("unterminated heredoc is an error at the instruction's line", () => {
  assert.throws(
    () => parseDockerfile("FROM a\nRUN <<EOF\necho\n", "Dockerfile"),
    (e: unknown) => e instanceof DockerfileError && e.message === "Dockerfile:2: unterminated heredoc",
  );
});

test("escape directive: backtick continues lines, keyword case kept in original", () => {
  const p = parseDockerfile("# escape=`\nFROM a\nrun echo `\n  b\n", "x/Dockerfile.dev");
  assert.equal(p.escapeChar, "`");
  assert.equal(p.nodes[1]!.keyword, "run");
  assert.deepEqual(p.nodes[1]!.args, ["echo   b"]);
  assert.equal(p.nodes[1]!.original, "run echo   b");
  assert.deepEqual([p.nodes[1]!.startLine, p.nodes[1]!.endLine], [3, 4]);
});

test("directive errors name the file and line", () => {
  assert.throws(
    () => parseDockerfile("# escape=x\nFROM a\n", "Dockerfile"),
    (e: unknown) => e instanceof DockerfileError && /invalid escape token 'x'/.test(e.message) && e.place.line === 1,
  );
  assert.throws(
    () => parseDockerfile("# escape=`\n# escape=\\\nFROM a\n", "Dockerfile"),
    (e: unknown) => e instanceof DockerfileError && e.message === "Dockerfile:2: only one escape parser directive can be used",
  );
});

test("empty continuation lines warn; CRLF and BOM are accepted", () => {
  const p = parseDockerfile("\ufeffFROM a\r\nRUN a \\\r\n\r\n b\r\n", "Dockerfile");
  assert.deepEqual(p.nodes[1]!.args, ["a  b"]);
  assert.equal(p.warnings.length, 1);
  assert.match(p.warnings[0]!, /Empty continuation line/);
});

test("flags are split off with quotes removed", () => {
  const p = parseDockerfile("FROM a\nCOPY --chown=\"a b\" --link -- --notaflag /d\n", "Dockerfile");
  assert.deepEqual(p.nodes[1]!.flags, ["--chown=a b", "--link"]);
  assert.deepEqual(p.nodes[1]!.args, ["--notaflag", "/d"]);
});

test("JSON with non-string elements is an error with the line", () => {
  assert.throws(
    () => parseDockerfile("FROM a\n\nCMD [1]\n", "Dockerfile"),
    (e: unknown) => e instanceof DockerfileError && e.place.line === 3 && /strings only/.test(e.message),
  );
});
