// Node's built-in modules that only some commands need, loaded on first use: a bundled static import
// is loaded at start-up by every command (zlib alone costs ~2 ms of each build's start).
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

// The CommonJS bundle has __filename; the ES module sources (tsx, tests) have import.meta.url.
const here = typeof __filename === "string" ? __filename : fileURLToPath(import.meta.url);
const nodeRequire = createRequire(here);

let zlib: typeof import("node:zlib") | undefined;

/** node:zlib, loaded when first asked for. */
export function lazyZlib(): typeof import("node:zlib") {
  zlib ??= nodeRequire("node:zlib") as typeof import("node:zlib");
  return zlib;
}
