// Node's built-in modules that only some commands need, loaded on first use: a bundled static import
// is loaded at start-up by every command (zlib costs ~2 ms of each build's start, crypto 3-4 ms).
import { createRequire } from "node:module";

import { moduleFile } from "./modulefile.js";

let required: NodeJS.Require | undefined;

function nodeRequire(id: string): unknown {
  required ??= createRequire(moduleFile(typeof __filename === "string" ? __filename : undefined, import.meta.url));
  return required(id);
}

let zlib: typeof import("node:zlib") | undefined;

/** node:zlib, loaded when first asked for. */
export function lazyZlib(): typeof import("node:zlib") {
  zlib ??= nodeRequire("node:zlib") as typeof import("node:zlib");
  return zlib;
}

let cryptoModule: typeof import("node:crypto") | undefined;

/** node:crypto, loaded when first asked for (common/digest.ts uses it only without the native helper). */
export function lazyCrypto(): typeof import("node:crypto") {
  cryptoModule ??= nodeRequire("node:crypto") as typeof import("node:crypto");
  return cryptoModule;
}
