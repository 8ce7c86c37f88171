import { readFileSync } from "node:fs";
import { errnoCode, UserError } from "../common/errors.js";
import { resolveInRoot } from "../common/rootpath.js";

// Users and groups as Docker/runc resolve them (runc's user.GetExecUser), read from the image's own
// /etc/passwd and /etc/group, never the host's.

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

export interface ChownIds {
  uid: number;
  gid: number;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** A user spec (USER, `docker run -u`) named in an error. */
export class UnknownUserError extends UserError {}

const NUMERIC = /^\d+$/;

async function readRootFile(rootfs: string, path: string): Promise<string> {
  const host = await resolveInRoot(rootfs, path);
  try {
    // synchronous: a small file read on every RUN (open, stat, read, close: four thread-pool round trips otherwise)
    return readFileSync(host, "utf8");
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ENOENT" || code === "ENOTDIR") return "";
    throw e;
  }
}

export async function readPasswd(rootfs: string): Promise<PasswdEntry[]> {
  const out: PasswdEntry[] = [];
  for (const line of (await readRootFile(rootfs, "/etc/passwd")).split("\n")) {
    const f = line.trim().split(":");
    if (f.length < 4 || f[0] === "" || line.startsWith("#")) continue;
    const uid = Number.parseInt(f[2] as string, 10);
    const gid = Number.parseInt(f[3] as string, 10);
    if (!Number.isFinite(uid) || !Number.isFinite(gid)) continue;
    out.push({ name: f[0] as string, uid, gid, home: f[5] ?? "" });
  }
  return out;
}

export async function readGroups(rootfs: string): Promise<GroupEntry[]> {
  const out: GroupEntry[] = [];
  for (const line of (await readRootFile(rootfs, "/etc/group")).split("\n")) {
    const f = line.trim().split(":");
    if (f.length < 3 || f[0] === "" || line.startsWith("#")) continue;
    const gid = Number.parseInt(f[2] as string, 10);
    if (!Number.isFinite(gid)) continue;
    const members = (f[3] ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
    out.push({ name: f[0] as string, gid, members });
  }
  return out;
}

function splitSpec(spec: string): [string, string | undefined] {
  const i = spec.indexOf(":");
  return i < 0 ? [spec, undefined] : [spec.slice(0, i), spec.slice(i + 1)];
}

/**
 * Resolves a USER spec: "" (root), "name", "uid", "name:group", "uid:gid", … A numeric uid needs no
 * passwd entry (its gid is then 0, as in Docker); a name must exist. Supplementary groups (groups that
 * list the user) apply only when no group was given.
 */
export async function resolveUser(rootfs: string, spec: string): Promise<ResolvedUser> {
  const [userPart, groupPart] = splitSpec(spec.trim());
  const passwd = await readPasswd(rootfs);
  const userArg = userPart === "" ? "0" : userPart;
  let entry: PasswdEntry | undefined;
  let uid: number;
  if (NUMERIC.test(userArg)) {
    uid = Number.parseInt(userArg, 10);
    entry = passwd.find((p) => p.uid === uid);
  } else {
    entry = passwd.find((p) => p.name === userArg);
    if (!entry) throw new UnknownUserError(`unable to find user ${userArg}: no matching entries in passwd file`);
    uid = entry.uid;
  }
  let gid = entry?.gid ?? 0;
  const home = entry && entry.home !== "" ? entry.home : "/";
  let additionalGids: number[] = [];
  if (groupPart !== undefined && groupPart !== "") {
    if (NUMERIC.test(groupPart)) {
      gid = Number.parseInt(groupPart, 10);
    } else {
      const group = (await readGroups(rootfs)).find((g) => g.name === groupPart);
      if (!group) throw new UnknownUserError(`unable to find group ${groupPart}: no matching entries in group file`);
      gid = group.gid;
    }
  } else if (entry) {
    const name = entry.name;
    additionalGids = (await readGroups(rootfs)).filter((g) => g.members.includes(name)).map((g) => g.gid);
  }
  return { uid, gid, additionalGids, home };
}

/** What resolveChown could not find: a user name missing from /etc/passwd, or a group from /etc/group. */
export type UnknownOwner = (kind: "user" | "group", name: string) => void;

/** llb.WithUser's parseUID: "root" and 32-bit integers are ids; anything else is a name ("" too). */
function ownerId(part: string): number | undefined {
  if (part === "root") return 0;
  if (!/^[+-]?\d+$/.test(part)) return undefined;
  const n = Number.parseInt(part, 10);
  return n >= -(2 ** 31) && n < 2 ** 31 ? n >>> 0 : undefined;
}

/**
 * Resolves a file owner as BuildKit's file operations do (COPY/ADD --chown, and WORKDIR's folder under
 * USER): llb.WithUser, then readUser. A number (or "root") is the uid and also the gid; a name gives its
 * passwd entry's uid and gid, or 0:0 when it has none; an empty user or group is 0. A group, when
 * given, replaces the gid: a number, or the group file's entry for a name (none: the gid stays).
 * BuildKit (dockerd 26) does this silently; `onUnknown` hears of each name it could not find.
 */
export async function resolveChown(rootfs: string, spec: string, onUnknown?: UnknownOwner): Promise<ChownIds> {
  const [userPart, groupPart] = splitSpec(spec);
  let uid = 0;
  let gid = 0;
  const id = ownerId(userPart);
  if (id !== undefined) {
    uid = gid = id;
  } else if (userPart !== "") {
    const entry = (await readPasswd(rootfs)).find((p) => p.name === userPart);
    if (entry) ({ uid, gid } = entry);
    else onUnknown?.("user", userPart);
  }
  if (groupPart !== undefined) {
    const groupId = ownerId(groupPart);
    if (groupId !== undefined) gid = groupId;
    else if (groupPart === "") gid = 0;
    else {
      const group = (await readGroups(rootfs)).find((g) => g.name === groupPart);
      if (group) gid = group.gid;
      else onUnknown?.("group", groupPart);
    }
  }
  return { uid, gid };
}
