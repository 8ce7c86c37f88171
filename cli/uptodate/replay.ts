// The up-to-date check, run by bin/tsbuild before the CLI is loaded (bundled alone as dist/uptodate.cjs):
// when this exact command line last ran as a build that changed nothing (cli/uptodate/record.ts) and
// everything that build relied on is as it was, running it again would change nothing again. Then the
// cache entries it took are marked used, as that build marked them, its output is printed again, and
// the command is done. Anything else (no memo, one check failing, a terminal to draw on, a trace asked
// for) runs the command as usual, which records a new memo if it can.
import { existsSync, fstatSync, readFileSync, utimesSync, writeSync } from "node:fs";
import { addonPathBeside } from "../../common/addonpath.js";
import { holds, invocationKey, isMemo, memoPath, rootOfArgv, type Memo, type ScanDir } from "./memo.js";

const DEV_NULL = (1 << 8) | 3;

/** True when the command was answered from its memo (the caller does nothing more); false to run it. */
export async function replayIfUpToDate(argv: string[], bundle: string): Promise<boolean> {
  const env = process.env;
  if (env.TSBUILD_TRACE !== undefined && env.TSBUILD_TRACE !== "" && env.TSBUILD_TRACE !== "0") return false;
  // a terminal gets the live progress display, which a recorded transcript is not (/dev/null, 1:3, is no terminal)
  const err = fstatSync(2);
  if (err.isCharacterDevice() && err.rdev !== DEV_NULL) return false;
  const root = rootOfArgv(argv, env);
  const invocation = invocationKey(argv, process.cwd(), env, bundle, root);
  const memo = readMemo(memoPath(root, invocation));
  if (memo === undefined || memo.invocation !== invocation) return false;
  const scan = nativeScan(bundle);
  try {
    for (const check of memo.checks) if (!(await holds(check, scan))) return false;
  } catch (e) {
    if (isErrno(e, "ENOENT", "ENOTDIR", "EACCES", "ELOOP")) return false; // something moved while we looked
    throw e;
  }
  // answered from here on: a failure now (a closed pipe) is this command's, not a reason to build
  try {
    const now = new Date();
    for (const file of memo.touch) touch(file, now);
    for (const [fd, text] of memo.output) writeAll(fd, text);
  } catch (e) {
    if (!(e instanceof Error && "code" in e)) throw e;
    process.exitCode = 1;
    writeAll(2, `error: ${e.message.slice(0, 300)}\n`);
  }
  return true;
}

/**
 * The addon's folder scan (common/native.ts loads the same file for the CLI; dlopen'ed here as it does), loaded on first use: a
 * large context's files are checked on the thread pool, where an lstat each on this thread took 5 µs.
 * Without the addon (not built), the files are lstat'ed one by one.
 */
function nativeScan(bundle: string): ScanDir | undefined {
  const path = addonPathBeside(bundle);
  if (!existsSync(path)) return undefined;
  let helpers: { scanDir: ScanDir } | undefined;
  return (dir) => {
    if (helpers === undefined) {
      const module = { exports: {} };
      process.dlopen(module, path);
      helpers = module.exports as { scanDir: ScanDir };
    }
    return helpers.scanDir(dir);
  };
}

function readMemo(path: string): Memo | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if (isErrno(e, "ENOENT", "ENOTDIR", "EACCES")) return undefined;
    throw e;
  }
  try {
    const o = JSON.parse(text) as unknown;
    return isMemo(o) ? o : undefined;
  } catch (e) {
    if (e instanceof SyntaxError) return undefined; // not a memo this tsbuild wrote: the build runs
    throw e;
  }
}

/** cache/index.ts touch: the entry file's mtime is its last use; one pruned meanwhile is left gone. */
function touch(file: string, now: Date): void {
  try {
    utimesSync(file, now, now);
  } catch (e) {
    if (!isErrno(e, "ENOENT")) throw e;
  }
}

/** All of text to fd, waiting out a non-blocking pipe that is full. */
function writeAll(fd: 1 | 2, text: string): void {
  let buf = Buffer.from(text, "utf8");
  while (buf.length > 0) {
    try {
      buf = buf.subarray(writeSync(fd, buf));
    } catch (e) {
      if (!isErrno(e, "EAGAIN")) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

function isErrno(e: unknown, ...codes: string[]): boolean {
  return e instanceof Error && "code" in e && typeof e.code === "string" && codes.includes(e.code);
}
