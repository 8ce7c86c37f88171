// History lines and the config words that BuildKit 0.13 (dockerd 26) writes, recorded from the oracle
// (testdata/cases/history-created-by replays a whole image of them).
import assert from "node:assert/strict";
import { test } from "node:test";
import type { CopyInstruction, HealthConfig } from "../instructions/index.js";
import { goDuration, goQuote, goQuoteList, goQuoteRune } from "./gofmt.js";
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

test("goQuoteRune is %q of an int", () => {
  assert.equal(goQuoteRune(0), "'\\x00'");
  assert.equal(goQuoteRune(2), "'\\x02'");
  assert.equal(goQuoteRune(10), "'\\n'");
  assert.equal(goQuoteRune(65), "'A'");
  assert.equal(goQuoteRune(39), "'\\''");
  assert.equal(goQuoteRune(0xd800), "'�'");
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

test("HEALTHCHECK's line is %q of the config struct", () => {
  const h = (test: string[], interval = 0, timeout = 0, startPeriod = 0, retries = 0): HealthConfig =>
    ({ test, interval, timeout, startPeriod, startInterval: 0, retries });
  // recorded from BuildKit
  assert.equal(healthcheckCreatedBy(h(["CMD-SHELL", "echo hc"], 5e9, 3e9, 1e9, 2)),
    "HEALTHCHECK &{[\"CMD-SHELL\" \"echo hc\"] \"5s\" \"3s\" \"1s\" \"0s\" '\\x02'}");
  assert.equal(healthcheckCreatedBy(h(["CMD", "echo", "x"])), "HEALTHCHECK &{[\"CMD\" \"echo\" \"x\"] \"0s\" \"0s\" \"0s\" \"0s\" '\\x00'}");
  assert.equal(healthcheckCreatedBy(h(["NONE"])), "HEALTHCHECK &{[\"NONE\"] \"0s\" \"0s\" \"0s\" \"0s\" '\\x00'}");
});

test("ARG is written as declared, not with the --build-arg value", () => {
  assert.equal(argCreatedBy([{ key: "V", value: "1" }, { key: "W" }]), "ARG V=1 W");
  assert.equal(argCreatedBy([{ key: "E", value: "" }]), "ARG E=");
});

test("RUN lists every declared ARG in order, repeats and all, with the step's values", () => {
  // recorded: ARG A=1, ARG B, ARG A=2, ENV A=3, ARG TARGETARCH, ARG C=c, RUN echo hi
  const env = ["PATH=/bin", "A=3", "TARGETARCH=amd64", "C=c"];
  assert.equal(buildArgPrefix(["A", "B", "A", "TARGETARCH", "C"], env), "|5 A=3 B= A=3 TARGETARCH=amd64 C=c ");
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
