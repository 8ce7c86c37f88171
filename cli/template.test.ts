// Go text/template as Docker's --format users write it. Expected outputs are Go's (text/template of
// Go 1.21, as `docker inspect -f` / `docker images --format` print them).
import { test } from "node:test";
import assert from "node:assert/strict";
import { UserError } from "../common/errors.js";
import { renderTemplate } from "./template.js";

const image = {
  Id: "sha256:abc",
  RepoTags: ["app:1", "app:latest"],
  Config: { Cmd: ["sh", "-c", "echo hi"], Env: ["PATH=/bin", "A=1"], Labels: { b: "2", a: "1" }, Volumes: null, User: "" },
  Size: 1234,
};

test("fields, %v printing of slices, maps and nil maps, json, index, join", () => {
  assert.equal(renderTemplate("{{.Id}} {{.Config.Cmd}}", image), "sha256:abc [sh -c echo hi]");
  assert.equal(renderTemplate("{{.Config.Labels}} {{.Config.Volumes}}", image), "map[a:1 b:2] map[]");
  assert.equal(renderTemplate("{{json .Config.Labels}}", image), '{"b":"2","a":"1"}');
  assert.equal(renderTemplate('{{index .Config.Labels "a"}} {{index .RepoTags 1}}', image), "1 app:latest");
  assert.equal(renderTemplate('{{join .RepoTags ", "}}', image), "app:1, app:latest");
  assert.equal(renderTemplate("{{.Nope}}", image), "<no value>");
});

test("range with variables and else, if/else if/else, with, len, eq, comparisons", () => {
  assert.equal(renderTemplate("{{range .RepoTags}}[{{.}}]{{end}}", image), "[app:1][app:latest]");
  assert.equal(renderTemplate("{{range $i, $t := .RepoTags}}{{$i}}={{$t}} {{end}}", image), "0=app:1 1=app:latest ");
  assert.equal(renderTemplate("{{range $k, $v := .Config.Labels}}{{$k}}:{{$v}};{{end}}", image), "a:1;b:2;");
  assert.equal(renderTemplate("{{range .Config.Volumes}}x{{else}}none{{end}}", image), "none");
  assert.equal(renderTemplate("{{if .Config.User}}user{{else if eq (len .RepoTags) 2}}two tags{{else}}other{{end}}", image), "two tags");
  assert.equal(renderTemplate("{{if gt .Size 1000}}big{{end}}{{if lt .Size 10}}small{{end}}", image), "big");
  assert.equal(renderTemplate("{{with .Config}}{{.Cmd}}{{end}}|{{with .Config.Volumes}}v{{else}}no volumes{{end}}", image), "[sh -c echo hi]|no volumes");
  assert.equal(renderTemplate('{{if and .Id (not .Config.User)}}yes{{end}} {{or .Config.User "root"}}', image), "yes root");
  assert.equal(renderTemplate('{{eq .Id "sha256:abc"}} {{ne .Size 1234}} {{eq .Size 1 2 1234}}', image), "true false true");
});

test("pipelines, parentheses, variables, $, functions Docker adds, trim markers and comments", () => {
  assert.equal(renderTemplate("{{.Config.Labels | json}}", image), '{"b":"2","a":"1"}');
  // as Go's encoding/json: HTML's <, > and & escaped
  assert.equal(renderTemplate("{{json .}}", { Cmd: "a<b && c>d" }), '{"Cmd":"a\\u003cb \\u0026\\u0026 c\\u003ed"}');
  assert.equal(renderTemplate('{{$t := index .RepoTags 0}}{{$t | upper}} {{(index .RepoTags 1) | lower}}', image), "APP:1 app:latest");
  assert.equal(renderTemplate("{{range .RepoTags}}{{$.Id}} {{end}}", image), "sha256:abc sha256:abc ");
  assert.equal(renderTemplate('{{printf "%s has %d tags" .Id (len .RepoTags)}}', image), "sha256:abc has 2 tags");
  assert.equal(renderTemplate('{{split "a,b" ","}} {{truncate .Id 6}} {{title "hello world"}}', image), "[a b] sha256 Hello World");
  assert.equal(renderTemplate("a  {{- /* a comment */ -}}  b {{- .Size -}} c", image), "ab1234c");
  assert.equal(renderTemplate("{{range .RepoTags -}}\n  {{.}}\n{{end}}", image), "app:1\napp:latest\n");
  assert.equal(renderTemplate('{{`raw {{ }}`}} {{"q\\"t"}}', image), 'raw {{ }} q"t');
});

test("mistakes are one-line UserErrors naming the template", () => {
  for (const bad of ["{{.Id", "{{if .Id}}x", "{{end}}", "{{nosuch .Id}}", '{{.Id "x"}}', "{{define \"x\"}}{{end}}"]) {
    assert.throws(() => renderTemplate(bad, image), (e: unknown) => e instanceof UserError && !e.message.includes("\n") && e.message.startsWith("template: "), bad);
  }
});
