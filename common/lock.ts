import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { readFile, readdir, rm, mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { errnoCode } from "./errors.js";
import { ownedName, ownerAlive, ownerToken, parseOwnerToken } from "./owner.js";

/**
 * An exclusive lock between tsbuild processes: a lock file created with O_EXCL holding the owner's
 * token (pid and start time, owner.ts). A lock whose owner is gone (killed mid-build) is taken over,
 * even when its pid has been reused since, so a crash never wedges the store.
 */
export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>): Promise<T> {
  // Taking and dropping the lock are synchronous calls (quick, and done on every build's index update).
  mkdirSync(dirname(lockPath), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(lockPath, ownerToken(), { flag: "wx" });
      break;
    } catch (e) {
      if (errnoCode(e) !== "EEXIST") throw e;
      const dead = await deadOwnerText(lockPath);
      if (dead !== undefined) {
        takeOver(lockPath, dead);
        continue;
      }
      await new Promise((r) => setTimeout(r, Math.min(5 + attempt * 2, 50)));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockPath, { force: true });
  }
}

/*
 * A shared/exclusive lock (builds share the store; garbage collection needs it alone). Node has no
 * flock(2), so: the exclusive holder owns `lockPath` (withFileLock above); each shared holder owns a
 * marker file `<lockPath>.readers/<pid>.<start>-<n>`. Both sides write their own file first and look at the
 * other side's second, so of two that race at least one sees the other: a shared taker that finds
 * the exclusive lock held withdraws its marker and waits; the exclusive taker waits until no live
 * marker is left. New shared takers wait behind a waiting exclusive one, so GC is never starved.
 * Markers and locks of processes that died are ignored and removed.
 */
let markerCount = 0;

/** Runs fn while holding lockPath shared: any number of shared holders, never beside an exclusive one. */
export async function withSharedLock<T>(lockPath: string, fn: () => Promise<T>): Promise<T> {
  const readers = `${lockPath}.readers`;
  await mkdir(readers, { recursive: true });
  const marker = join(readers, `${ownerToken()}-${++markerCount}`);
  for (let attempt = 0; ; attempt++) {
    await writeFile(marker, ownerToken());
    if (!(await heldByLiveOwner(lockPath))) break;
    await rm(marker, { force: true });
    await sleep(Math.min(5 + attempt * 5, 100));
  }
  try {
    return await fn();
  } finally {
    await rm(marker, { force: true });
  }
}

/**
 * Runs fn while holding lockPath exclusively: after every shared holder has left. onWait is told, once,
 * how many live holders there are when they have been waited for a second (a command can say why it
 * is not done yet: a build in progress, not a hang).
 */
export function withExclusiveLock<T>(lockPath: string, fn: () => Promise<T>, onWait?: (holders: number) => void): Promise<T> {
  return withFileLock(lockPath, async () => {
    await drainReaders(`${lockPath}.readers`, onWait);
    return fn();
  });
}

async function heldByLiveOwner(lockPath: string): Promise<boolean> {
  try {
    await readFile(lockPath);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return false;
    throw e;
  }
  return !(await ownerIsGone(lockPath));
}

async function drainReaders(readers: string, onWait?: (holders: number) => void): Promise<void> {
  const started = Date.now();
  let told = onWait === undefined;
  for (let attempt = 0; ; attempt++) {
    let names: string[];
    try {
      names = await readdir(readers);
    } catch (e) {
      if (errnoCode(e) === "ENOENT") return;
      throw e;
    }
    let live = 0;
    for (const name of names) {
      const marker = join(readers, name);
      if (await markerOwnerGone(marker, name)) await rm(marker, { force: true });
      else live++;
    }
    if (live === 0) return;
    if (!told && Date.now() - started >= 1000) {
      told = true;
      onWait?.(live);
    }
    await sleep(Math.min(10 + attempt * 10, 200));
  }
}

/**
 * A marker's owner is in its name (`<pid>.<start>-<n>`) as well as in it: the name decides, since a
 * taker killed between creating the file and writing its token left it empty, and an empty marker
 * read as one being written was waited for for ever. An older tsbuild's marker (no parsable name) is read.
 */
async function markerOwnerGone(marker: string, name: string): Promise<boolean> {
  const owner = parseOwnerToken(name.replace(/-\d+$/, ""));
  return owner === undefined ? ownerIsGone(marker) : !ownerAlive(owner, marker);
}

/** Longer than any write of a token takes: an empty lock file this old was left by a killed taker. */
const EMPTY_LOCK_AGE_MS = 2000;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Whether the lock file or marker at path names an owner that has died (its pid possibly reused since). */
export async function ownerIsGone(lockPath: string): Promise<boolean> {
  return (await deadOwnerText(lockPath)) !== undefined;
}

/** The lock file's text when its owner has died, else undefined (alive, being written, or released). */
export async function deadOwnerText(lockPath: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(lockPath, "utf8");
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return undefined; // released meanwhile: retry
    throw e;
  }
  // being written, unless its taker was killed between creating it and writing its token (then it
  // stays empty, and every later taker waited for ever: a killed prune's GC lock)
  if (text === "") return emptySince(lockPath) > EMPTY_LOCK_AGE_MS ? "" : undefined;
  const owner = parseOwnerToken(text);
  if (owner === undefined) return text; // not a lock of ours: nothing can ever release it
  return ownerAlive(owner, lockPath) ? undefined : text;
}

/** How long ago the (empty) lock file was made; 0 if it is gone already. */
function emptySince(lockPath: string): number {
  const st = statSync(lockPath, { throwIfNoEntry: false });
  return st === undefined ? 0 : Date.now() - st.mtimeMs;
}

/**
 * Removes a dead owner's lock file (`deadText` is what it held), unless another taker replaced it since
 * it was read. Only the holder of `<lock>.takeover` (taken with O_EXCL) removes a dead lock, after
 * reading it again: a live lock is never removed, since nothing else removes a lock but its owner and
 * that holder, and a new lock is only made where none is. (Renaming the lock aside and putting back a
 * live one lost that one when a third taker made a lock in between: two held it.)
 */
export function takeOver(lockPath: string, deadText: string): void {
  const guard = `${lockPath}.takeover`;
  try {
    writeFileSync(guard, ownerToken(), { flag: "wx" });
  } catch (e) {
    if (errnoCode(e) !== "EEXIST") throw e;
    removeDeadGuard(guard); // another taker is at it (or died at it, in the microseconds it holds it)
    return;
  }
  try {
    let text: string;
    try {
      text = readFileSync(lockPath, "utf8");
    } catch (e) {
      if (errnoCode(e) === "ENOENT") return; // released or taken over meanwhile
      throw e;
    }
    if (text === deadText) unlinkSync(lockPath);
  } finally {
    rmSync(guard, { force: true });
  }
}

/** A takeover guard whose owner died while holding it: renamed aside, checked, and dropped if still dead. */
function removeDeadGuard(guard: string): void {
  let text: string;
  try {
    text = readFileSync(guard, "utf8");
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return;
    throw e;
  }
  const owner = parseOwnerToken(text);
  if (text === "" ? emptySince(guard) <= EMPTY_LOCK_AGE_MS : owner !== undefined && ownerAlive(owner, guard)) return;
  const aside = `${guard}.${ownedName("stale")}`;
  try {
    renameSync(guard, aside);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return;
    throw e;
  }
  try {
    // a guard held for microseconds: one made in between by a live taker is put back
    if (readFileSync(aside, "utf8") !== text) linkSync(aside, guard);
  } catch (e) {
    if (errnoCode(e) !== "EEXIST") throw e;
  } finally {
    unlinkSync(aside);
  }
}
