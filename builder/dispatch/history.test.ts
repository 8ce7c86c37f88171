// History lines and the config words that BuildKit 0.13 (dockerd 26) writes, recorded from the oracle
// (testdata/cases/history-created-by replays a whole image of them).
import assert from "node:assert/strict";
import { test } from "node:test";
import type { CopyInstruction, HealthConfig } from "../instructions/index.js";
import { goDuration, goQuote, goQuoteList } from "./gofmt.js";
import { argCreatedBy, buildArgPrefix, copyCreatedBy, exposeCreatedBy, healthcheckCreatedBy, runCreatedBy } from "./history.js";
import { isValidStopSignal } from "./stopsignal.js";
import { normalizeWorkdir } from "./workdir.js";

test("goQuote is Go's strconv.Quote", () => {
  assert.equal(goQuote("a b"), "\"a b\"");
  assert.equal(goQuote("c\"d\\e"), "\"c\\\"d\\\\e\"");
  // recorded: CMD ["a\tb", "é", "\u0001"] → CMD ["a\tb" "é" "\x01"]
  assert.equal(goQuoteList(["a\tb", "é", "\u0001"]), "[\"a\\tb\" \"é\" \"\\x01\"]");
  assert.equal(goQuote("\u0007\b\f\n\r\v\u007f"), "\"\\a\\b\\f\\n\\r\\v\\x7f\"");
  assert.equal(goQuote("\u00a0\u2028😀"), "\"\\u00a0\\u2028😀\"");
  assert.equal(goQuote("<&>'"), "\"<&>'\"");
});

test("goDuration is time.Duration's String()", () => {
  const s = 1e9;
  assert.equal(goDuration(0), "0s");
  assert.equal(goDuration(5 * s), "5s");
  assert.equal(goDuration(1.5 * s), "1.5s");
  assert.equal(goDuration(90 * s), "1m30s");
  assert.equal(goDuration(3600 * s), "1h0m0s");
  assert.equal(goDuration(3661.25 * s), "1h1m1.25s");
  assert.equal(goDuration(300e6), "300ms");
  assert.equal(goDuration(1500), "1.5µs");
  assert.equal(goDuration(10), "10ns");
  assert.equal(goDuration(-2 * s), "-2s");
});

test("HEALTHCHECK's line is %+v of the config (BuildKit v0.30's fix of 0.13's %q)", () => {
  const h = (test: string[], interval = 0, timeout = 0, startPeriod = 0, startInterval = 0, retries = 0): HealthConfig =>
    ({ test, interval, timeout, startPeriod, startInterval, retries });
  // BuildKit's own TestDispatchHealthcheckHistory (frontend/dockerfile/dockerfile2llb/convert_test.go)
  assert.equal(healthcheckCreatedBy(h(["bin", "-c", "exit 0"], 1e9, 10e9, 3e9, 100e6, 5)),
    "HEALTHCHECK {Test:[bin -c exit 0] Interval:1s Timeout:10s StartPeriod:3s StartInterval:100ms Retries:5}");
  assert.equal(healthcheckCreatedBy(h(["NONE"])), "HEALTHCHECK {Test:[NONE] Interval:0s Timeout:0s StartPeriod:0s StartInterval:0s Retries:0}");
});

test("ARG is written as declared, not with the --build-arg value", () => {
  assert.equal(argCreatedBy([{ key: "V", value: "1" }, { key: "W" }]), "ARG V=1 W");
  assert.equal(argCreatedBy([{ key: "E", value: "" }]), "ARG E=");
});

test("RUN lists every declared ARG once, in first-declared order, with the step's values", () => {
  // recorded: ARG A=1, ARG B, ARG A=2, ENV A=3, ARG TARGETARCH, ARG C=c, RUN echo hi (BuildKit 0.13
  // wrote |5 A=3 B= A=3 TARGETARCH=amd64 C=c; v0.18 lists A once, moby/buildkit#5505)
  const env = ["PATH=/bin", "A=3", "TARGETARCH=amd64", "C=c"];
  assert.equal(buildArgPrefix(["A", "B", "A", "TARGETARCH", "C"], env), "|4 A=3 B= TARGETARCH=amd64 C=c ");
  // BuildKit's testExportedHistoryFlattenArgs: ARG foo=bar, ARG bar=123, ARG foo=bar2
  assert.equal(buildArgPrefix(["foo", "bar", "foo"], ["foo=bar2", "bar=123"]), "|2 foo=bar2 bar=123 ");
  assert.equal(buildArgPrefix([], env), "");
  assert.equal(runCreatedBy(["/bin/sh", "-c", "echo hi"], [], env), "RUN /bin/sh -c echo hi # buildkit");
  assert.equal(runCreatedBy(["echo", "a b"], ["C"], env), "RUN |1 C=c echo a b # buildkit");
});

test("COPY and ADD show --chown and --chmod, never --from or --link", () => {
  const copy = (extra: Partial<CopyInstruction>): CopyInstruction => ({
    kind: "COPY", sources: ["f.txt"], contents: [], dest: "/dst/", link: false, parents: false, excludes: [],
    original: "", place: { file: "Dockerfile", line: 1 }, ...extra,
  } as CopyInstruction);
  assert.equal(copyCreatedBy(copy({ chown: "1:2", chmod: "640", sources: ["f.txt", "d"] })), "COPY --chown=1:2 --chmod=640 f.txt d /dst/ # buildkit");
  assert.equal(copyCreatedBy(copy({ from: "build", link: true })), "COPY f.txt /dst/ # buildkit");
  assert.equal(copyCreatedBy(copy({ sources: [], contents: [{ path: "EOT", data: "x\n", expand: true }] })), "COPY <<EOT /dst/ # buildkit");
  // convert_copy.go writes --parents first, and never --exclude
  assert.equal(copyCreatedBy(copy({ parents: true, excludes: ["*.md"], chown: "1:2", sources: ["./x/./y/*.txt"] })), "COPY --parents --chown=1:2 ./x/./y/*.txt /dst/ # buildkit");
});

test("EXPOSE shows this instruction's ports, sorted as a Go map prints", () => {
  assert.equal(exposeCreatedBy(["80/tcp", "443/udp", "8000/tcp", "8001/tcp"]), "EXPOSE map[443/udp:{} 80/tcp:{} 8000/tcp:{} 8001/tcp:{}]");
});

test("STOPSIGNAL takes what moby/sys/signal.ParseSignal takes", () => {
  for (const ok of ["SIGTERM", "sigterm", "term", "9", "-5", "+7", "99", "RTMIN+3", "sigrtmax-1", "SIGRTMAX", "kill"]) {
    assert.ok(isValidStopSignal(ok), ok);
  }
  for (const bad of ["SIGFOO", "0", "-0", "SIGRTMAX+1", "RTMIN+16", "SIGSIGTERM", "", "9x", "99999999999999999999"]) {
    assert.ok(!isValidStopSignal(bad), bad);
  }
});

test("WORKDIR keeps an absolute path as written and cleans a relative one", () => {
  // recorded: WORKDIR /a/b/ → "/a/b/"; then c/ → "/a/b/c"; /x/../y//z/. as is; then .. → "/y"
  assert.equal(normalizeWorkdir("", "/a/b/"), "/a/b/");
  assert.equal(normalizeWorkdir("/a/b/", "c/"), "/a/b/c");
  assert.equal(normalizeWorkdir("/a/b/c", "/x/../y//z/."), "/x/../y//z/.");
  assert.equal(normalizeWorkdir("/x/../y//z/.", ".."), "/y");
  assert.equal(normalizeWorkdir("", "rel"), "/rel");
  assert.equal(normalizeWorkdir("/", "/"), "/");
});
