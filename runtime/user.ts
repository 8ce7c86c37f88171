import { readFile } from "node:fs/promises";
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
  try {
    return await readFile(await resolveInRoot(rootfs, path), "utf8");
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

/**
 * Resolves COPY/ADD --chown=user[:group] as BuildKit does: a name gives the passwd entry's uid and gid,
 * a number alone gives uid = gid = that number; an explicit group overrides the gid. BuildKit (dockerd
 * 26) silently maps an unknown user name to 0:0 and ignores an unknown group name: so do we.
 */
export async function resolveChown(rootfs: string, spec: string): Promise<ChownIds> {
  const [userPart, groupPart] = splitSpec(spec.trim());
  let uid = 0;
  let gid = 0;
  if (NUMERIC.test(userPart)) {
    uid = gid = Number.parseInt(userPart, 10);
  } else if (userPart !== "") {
    const entry = (await readPasswd(rootfs)).find((p) => p.name === userPart);
    if (entry) ({ uid, gid } = entry);
  }
  if (groupPart !== undefined && groupPart !== "") {
    if (NUMERIC.test(groupPart)) gid = Number.parseInt(groupPart, 10);
    else gid = (await readGroups(rootfs)).find((g) => g.name === groupPart)?.gid ?? gid;
  }
  return { uid, gid };
}
