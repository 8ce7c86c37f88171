#!/usr/bin/env node
// Runs the bundled CLI (make build: dist/tsbuild.cjs) from V8's code cache when there is one: compiling
// a megabyte of JavaScript was a third of a no-op rebuild. A cache is written after a successful run that lacked a
// fitting one (dist/tsbuild.cjs.<build|cli>[.<node flags>].v8cache: a build's covers the build path); V8 rejects a
// cache made for another bundle or Node version, which is then rewritten.
const { readFileSync, renameSync, rmSync, writeFileSync } = require("node:fs");
const { createRequire } = require("node:module");
const { dirname, join } = require("node:path");
const { Script } = require("node:vm");

const bundle = join(__dirname, "..", "dist", "tsbuild.cjs");
// V8 refuses a cache made under other flags: bin/tsbuild starts Node with --liftoff-only, tests run
// `node bin/tsbuild` without, and each keeps its own cache instead of rewriting the other's
const flags = process.execArgv.map((a) => `.${a.replace(/^-+/, "").replace(/[^A-Za-z0-9=_-]/g, "_")}`).join("");
const cachePath = (kind) => `${bundle}.${kind}${flags}.v8cache`;

function readCache(kind) {
  try {
    return readFileSync(cachePath(kind));
  } catch (e) {
    if (e.code === "ENOENT") return undefined;
    throw e;
  }
}

// A build run again that would change nothing is answered from its up-to-date memo, before the CLI loads
// (cli/uptodate/replay.ts).
// A failure of the check itself is said, and the command runs as usual.
require("../dist/uptodate.cjs").replayIfUpToDate(process.argv.slice(2), bundle).then((replayed) => {
  if (!replayed) runCli();
}, (e) => {
  process.stderr.write(`tsbuild: the up-to-date check failed (${e instanceof Error ? e.message : String(e)}); building\n`);
  runCli();
});

function runCli() {
  const buildCache = readCache("build");
  const cached = buildCache ?? readCache("cli");
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${readFileSync(bundle, "utf8")}\n})`, {
    filename: bundle,
    ...(cached ? { cachedData: cached } : {}),
  });
  const mod = { exports: {} };
  script.runInThisContext()(mod.exports, createRequire(bundle), mod, bundle, dirname(bundle));
  const cli = mod.exports;
  const argv = process.argv.slice(2);
  const kind = cli.runsBuild(argv) ? "build" : "cli";
  if (cached === undefined || script.cachedDataRejected === true || (kind === "build" && buildCache === undefined)) {
    // only a run that succeeded: a build failing early compiles a fraction of the build path, and its
    // (accepted, so never rewritten) cache left every later start ~40 ms slower
    process.once("exit", (code) => {
      if (code !== 0) return;
      const tmp = `${cachePath(kind)}.tmp-${process.pid}`;
      try {
        writeFileSync(tmp, script.createCachedData());
        renameSync(tmp, cachePath(kind));
      } catch (e) {
        rmSync(tmp, { force: true });
        if (!["EACCES", "EPERM", "EROFS", "ENOSPC"].includes(e.code)) throw e; // a read-only install runs uncached
      }
    });
  }
  cli.main(argv, bundle);
}
