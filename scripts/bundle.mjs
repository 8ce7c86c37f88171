// Bundles the CLI into one CommonJS file, dist/tsbuild.cjs (the Makefile's build target runs this).
// Node builtins that a command may not need (child_process, tls, http…) are required when first used,
// not when the module importing them is loaded: commander requires child_process at start for its
// external subcommands, netfetch requires tls for its roots, and a no-op rebuild spawns and sends
// nothing; loading those modules was ~15 ms of every start. The bundle's require of each becomes a
// Proxy that requires the real module on its first property access (esbuild leaves builtins as plain
// `require("node:x")` calls, which this rewrites; a default import would enumerate it, and so load it).
import { mkdir, writeFile } from "node:fs/promises";
import { build } from "esbuild";

const LAZY = ["child_process", "tls", "https", "http", "net", "dgram", "readline", "readline/promises", "zlib", "crypto", "tty"];
const lazyRequire = new RegExp(`\\brequire\\("((?:node:)?(?:${LAZY.join("|")}))"\\)`, "g");

const HELPER = `var __lazyBuiltin = (id) => {
  let real;
  const load = () => (real ??= require(id));
  return new Proxy({}, {
    get: (_t, k) => load()[k],
    has: (_t, k) => k in load(),
    ownKeys: () => Reflect.ownKeys(load()),
    getOwnPropertyDescriptor: (_t, k) => { const d = Reflect.getOwnPropertyDescriptor(load(), k); return d && { ...d, configurable: true }; },
  });
};`;

const result = await build({
  entryPoints: ["cli/main.ts"],
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  supported: { "dynamic-import": false },
  // undici stays in node_modules: only a TLS or proxied request loads it (common/netfetch.ts)
  external: ["undici"],
  outfile: "dist/tsbuild.cjs",
  write: false,
  logLevel: "warning",
  logOverride: { "empty-import-meta": "silent" },
});
const [out] = result.outputFiles;
let count = 0;
const text = out.text.replace(lazyRequire, (_m, id) => {
  count++;
  return `__lazyBuiltin("${id}")`;
});
if (count === 0) throw new Error("scripts/bundle.mjs: no builtin require to make lazy: has esbuild's output changed?");
const body = text.replace(/^("use strict";\n)?/, (m) => `${m}${HELPER}\n`);
await mkdir("dist", { recursive: true });
await writeFile(out.path, body);

// The up-to-date check (cli/uptodate/replay.ts), bundled alone: bin/tsbuild runs it before it loads the
// CLI, and a rebuild that would change nothing ends there.
await build({
  entryPoints: ["cli/uptodate/replay.ts"],
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  outfile: "dist/uptodate.cjs",
  logLevel: "warning",
});
