// encodeHeader's shortcut for plain entries must give the very bytes of the full encoder: compared on
// entries at and around every boundary it checks (name lengths, non-ASCII, big numbers, xattrs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeFullHeader, encodeHeader } from "./header.js";
import type { TarEntry, TarEntryType } from "./types.js";

test("the plain-entry shortcut encodes exactly as the full encoder", () => {
  const names = ["a", "dir/file.js", "x".repeat(99), "x".repeat(100), "x".repeat(101), `${"d/".repeat(60)}f`, "é", "tab\there", "\x7f"];
  const types: TarEntryType[] = ["file", "dir", "symlink", "hardlink", "fifo"];
  const numbers = [0, 1, 0o755, 0o7777777, 0o7777777 + 1, 65534];
  const times = [0, 1_733_550_000, 1.5, -1, 0o77777777777, 0o77777777777 + 1];
  let compared = 0;
  for (const path of names) {
    for (const type of types) {
      for (const n of numbers) {
        for (const mtime of times) {
          const entry: TarEntry = {
            path, type, mode: 0o104755 & (n | 0o644), uid: n, gid: numbers[(n + 1) % numbers.length] as number, size: type === "file" ? n : 0, mtime,
            ...(type === "symlink" || type === "hardlink" ? { linkname: path.length > 50 ? `${path}/..` : `../${path}` } : {}),
          };
          assert.deepEqual(encodeHeader(entry), encodeFullHeader(entry), JSON.stringify(entry));
          compared++;
        }
      }
    }
  }
  const withXattrs: TarEntry = { path: "f", type: "file", mode: 0o644, uid: 0, gid: 0, size: 3, mtime: 5, xattrs: new Map([["user.a", Buffer.from("1")]]) };
  assert.deepEqual(encodeHeader(withXattrs), encodeFullHeader(withXattrs));
  const named: TarEntry = { path: "f", type: "file", mode: 0o644, uid: 0, gid: 0, size: 3, mtime: 5, uname: "root", gname: "root" };
  assert.deepEqual(encodeHeader(named), encodeFullHeader(named));
  const device: TarEntry = { path: "null", type: "char", mode: 0o666, uid: 0, gid: 0, size: 0, mtime: 5, devmajor: 1, devminor: 3 };
  assert.deepEqual(encodeHeader(device), encodeFullHeader(device));
  assert.ok(compared > 1000);
});
