// Recognising and undoing the compressions an ADD archive (or a pulled layer) may carry.
// gzip is done in-process by zlib; bzip2, xz and zstd by the system's tools, streamed through a pipe.
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { ArchiveError, UserError, errnoCode } from "../common/errors.js";
import { createGunzip } from "node:zlib";
import { READ_CHUNK } from "../common/readchunk.js";

export type Compression = "none" | "gzip" | "bzip2" | "xz" | "zstd";

/** How many leading bytes detectCompression needs to decide. */
export const COMPRESSION_MAGIC_BYTES = 6;

const MAGIC: Array<[Exclude<Compression, "none">, number[]]> = [
  ["gzip", [0x1f, 0x8b]],
  ["bzip2", [0x42, 0x5a, 0x68]], // "BZh"
  ["xz", [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ["zstd", [0x28, 0xb5, 0x2f, 0xfd]],
];

/** The compression of a stream, from its first bytes (as Docker's DetectCompression does). */
export function detectCompression(head: Buffer): Compression {
  for (const [kind, magic] of MAGIC) {
    if (head.length >= magic.length && magic.every((b, i) => head[i] === b)) return kind;
  }
  return "none";
}

/**
 * Whether `head` (at least the first 512 bytes of an uncompressed stream) starts with a tar header:
 * a non-empty header block whose checksum is right (as Go's tar.Reader.Next() would accept it).
 */
export function isTarArchive(head: Buffer): boolean {
  if (head.length < 512) return false;
  const block = head.subarray(0, 512);
  if (block.every((b) => b === 0)) return false;
  const field = block.subarray(148, 156).toString("latin1").replace(/[\0 ]+$/, "").trim();
  if (!/^[0-7]+$/.test(field)) return false;
  const recorded = Number.parseInt(field, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : (block[i] as number);
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return recorded === unsigned || recorded === signed;
}

const TOOLS: Record<Exclude<Compression, "none" | "gzip">, string> = { bzip2: "bzip2", xz: "xz", zstd: "zstd" };

/** The absolute path of an executable on PATH, or undefined. */
export function findTool(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch (e) {
      const code = errnoCode(e); // not in this folder, or not executable: try the next one
      if (code === "ENOENT" || code === "EACCES" || code === "ENOTDIR") continue;
      throw e;
    }
  }
  return undefined;
}

/**
 * The decompressed bytes of `input`. The result is a stream that errors (ArchiveError) when the data is
 * corrupt; destroying it early stops the decompressor. `what` names the data in error messages.
 */
export function decompressStream(kind: Compression, input: Readable, what = "archive"): Readable {
  if (kind === "none") return input;
  if (kind === "gzip") {
    const gunzip = createGunzip({ chunkSize: READ_CHUNK });
    const out = new PassThrough();
    input.on("error", (e) => out.destroy(e));
    gunzip.on("error", (e) => out.destroy(new ArchiveError(`${what}: corrupt gzip data: ${e.message}`)));
    out.on("close", () => {
      input.destroy();
      gunzip.destroy();
    });
    input.pipe(gunzip).pipe(out);
    return out;
  }
  const tool = TOOLS[kind];
  const path = findTool(tool);
  if (path === undefined) {
    throw new UserError(`${what}: is ${kind}-compressed, but the '${tool}' program is not installed to decompress it`);
  }
  const out = new PassThrough();
  // execa loads lazily: importing it costs ~100 ms, which a build without archives should not pay
  import("execa").then(({ execa }) => {
    const child = execa(path, ["-dc"], { stdin: "pipe", stdout: "pipe", stderr: "pipe", buffer: { stdout: false, stderr: true } });
    let stoppedByUs = false;
    out.on("close", () => {
      if (!child.stdout.readableEnded) {
        stoppedByUs = true;
        child.kill();
      }
      input.destroy();
    });
    input.on("error", (e) => out.destroy(e));
    child.stdin.on("error", (e) => {
      // EPIPE: the tool exited (its exit status is reported below); anything else is a real failure
      if (errnoCode(e) !== "EPIPE") out.destroy(e);
    });
    input.pipe(child.stdin);
    child.stdout.pipe(out, { end: false });
    child.then(
      () => {
        if (child.stdout.readableEnded) out.end();
        else child.stdout.once("end", () => out.end());
      },
      (e: unknown) => {
        if (stoppedByUs) return; // we killed it: the reader no longer wants the data
        const stderr = typeof e === "object" && e !== null && "stderr" in e ? String((e as { stderr: unknown }).stderr).trim() : "";
        out.destroy(new ArchiveError(`${what}: ${tool} -dc failed${stderr ? `: ${stderr.split("\n")[0]}` : ""}`));
      },
    );
  }, (e: unknown) => out.destroy(e instanceof Error ? e : new Error(String(e))));
  return out;
}
