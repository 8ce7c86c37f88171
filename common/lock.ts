import { open, readFile, rm, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { errnoCode } from "./errors.js";

/**
 * An exclusive lock between tsbuild processes: a lock file created with O_EXCL holding the owner's
 * pid. A lock whose owner is gone (killed mid-build) is taken over, so a crash never wedges the store.
 */
export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>): Promise<T> {
  await mkdir(dirname(lockPath), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(lockPath, "wx");
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (e) {
      if (errnoCode(e) !== "EEXIST") throw e;
      if (await ownerIsGone(lockPath)) {
        await rm(lockPath, { force: true });
        continue;
      }
      await new Promise((r) => setTimeout(r, Math.min(5 + attempt * 2, 50)));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockPath, { force: true });
  }
}

async function ownerIsGone(lockPath: string): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(lockPath, "utf8");
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return false; // released meanwhile: retry
    throw e;
  }
  const pid = Number.parseInt(text, 10);
  if (!Number.isFinite(pid) || pid <= 0) return text === "" ? false : true; // empty: being written
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return errnoCode(e) === "ESRCH";
  }
}
