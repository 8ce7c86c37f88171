// PAX extended header records: "<len> <key>=<value>\n", where <len> counts the whole record.
// Values are bytes (SCHILY.xattr.* values may be binary), so records are built and parsed as Buffers.
import { ArchiveError } from "../../common/errors.js";

export type PaxRecords = Map<string, Buffer>;

export function encodePaxRecords(records: PaxRecords): Buffer {
  const parts: Buffer[] = [];
  // Sorted keys, as Go's archive/tar writes them, so archives are deterministic.
  for (const key of [...records.keys()].sort()) {
    const value = records.get(key) as Buffer;
    const body = Buffer.concat([Buffer.from(` ${key}=`, "utf8"), value, Buffer.from("\n")]);
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len = String(len).length + body.length;
    parts.push(Buffer.from(String(len), "ascii"), body);
  }
  return Buffer.concat(parts);
}

export function parsePaxRecords(data: Buffer, where: string): PaxRecords {
  const records: PaxRecords = new Map();
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break; // some writers pad the record block with NULs
    const space = data.indexOf(0x20, pos);
    if (space < 0) throw new ArchiveError(`${where}: malformed PAX record (no length)`);
    const len = Number.parseInt(data.subarray(pos, space).toString("ascii"), 10);
    if (!Number.isSafeInteger(len) || len <= space - pos || pos + len > data.length) {
      throw new ArchiveError(`${where}: malformed PAX record length`);
    }
    const record = data.subarray(space + 1, pos + len);
    if (record[record.length - 1] !== 0x0a) throw new ArchiveError(`${where}: PAX record does not end in a newline`);
    const eq = record.indexOf(0x3d);
    if (eq <= 0) throw new ArchiveError(`${where}: malformed PAX record (no key)`);
    const key = record.subarray(0, eq).toString("utf8");
    records.set(key, Buffer.from(record.subarray(eq + 1, record.length - 1)));
    pos += len;
  }
  return records;
}

/** PAX time: seconds with an optional fraction, no trailing zeros ("1700000000.5"). */
export function formatPaxTime(seconds: number): string {
  const whole = Math.floor(seconds);
  const nanos = Math.round((seconds - whole) * 1e9);
  if (nanos === 0) return String(whole);
  if (nanos >= 1e9) return String(whole + 1);
  return `${whole}.${String(nanos).padStart(9, "0").replace(/0+$/, "")}`;
}
