// The rewriting of recorded BuildKit 0.13 history lines into the later fixed wording (test/laterfixes.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { laterReleaseHistory } from "./laterfixes.js";

test("HEALTHCHECK lines go from 0.13's %q to v0.30's %+v", () => {
  // recorded from BuildKit 0.13 (case history-created-by)
  assert.equal(laterReleaseHistory("HEALTHCHECK &{[\"CMD-SHELL\" \"echo hc\"] \"1m30s\" \"3s\" \"1.5s\" \"0s\" '\\n'}"),
    "HEALTHCHECK {Test:[CMD-SHELL echo hc] Interval:1m30s Timeout:3s StartPeriod:1.5s StartInterval:0s Retries:10}");
  assert.equal(laterReleaseHistory("HEALTHCHECK &{[\"NONE\"] \"0s\" \"0s\" \"0s\" \"0s\" '\\x00'}"),
    "HEALTHCHECK {Test:[NONE] Interval:0s Timeout:0s StartPeriod:0s StartInterval:0s Retries:0}");
  assert.equal(laterReleaseHistory("HEALTHCHECK &{[\"CMD\" \"a\\\"b\" \"tab\\there\"] \"0s\" \"0s\" \"0s\" \"2s\" 'A'}"),
    "HEALTHCHECK {Test:[CMD a\"b tab\there] Interval:0s Timeout:0s StartPeriod:0s StartInterval:2s Retries:65}");
});

test("RUN lines list a re-declared ARG once, as v0.18 does", () => {
  assert.equal(laterReleaseHistory("RUN |5 GLOBAL=g1 V=2 W=wv X=2x V=2 /bin/sh -c echo hi # buildkit"),
    "RUN |4 GLOBAL=g1 V=2 W=wv X=2x /bin/sh -c echo hi # buildkit");
  assert.equal(laterReleaseHistory("RUN |3 foo=bar2 bar=123 foo=bar2 /bin/sh -c ls /etc/ # buildkit"),
    "RUN |2 foo=bar2 bar=123 /bin/sh -c ls /etc/ # buildkit");
  for (const same of ["RUN |2 A=1 B=2 /bin/sh -c true # buildkit", "RUN /bin/sh -c true # buildkit", "ENV A=1", "RUN |2 Q=a b Q=a b x"]) {
    assert.equal(laterReleaseHistory(same), same);
  }
});
