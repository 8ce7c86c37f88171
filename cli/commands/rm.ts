// `tsbuild rm [-f] NAME|ID...`: removes container records and their writable layers.
import { errnoCode, UserError } from "../../common/errors.js";
import { storePaths } from "../../common/storepaths.js";
import { findContainer, removeContainer, runOwner } from "../../runtime/containers.js";
import { ownerAlive, type Owner } from "../../common/owner.js";

export async function runRm(root: string, names: string[], opts: { force?: boolean }): Promise<void> {
  const paths = storePaths(root);
  const failures: string[] = [];
  for (const name of names) {
    try {
      const rec = await findContainer(paths, name);
      const owner = runOwner(rec);
      if (owner !== undefined && ownerAlive(owner)) {
        if (!opts.force) {
          throw new UserError(`cannot remove container "/${rec.name}": container is running: stop the container before removing or force remove`);
        }
        await stopRun(owner);
      }
      await removeContainer(paths, rec);
      process.stdout.write(`${name}\n`);
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      failures.push(e.message);
    }
  }
  if (failures.length > 0) throw new UserError(failures.join("; "));
}

/** Asks the `tsbuild run` process to stop its container (it kills and cleans up), and waits for it. */
async function stopRun(owner: Owner): Promise<void> {
  try {
    process.kill(owner.pid, "SIGTERM");
  } catch (e) {
    if (errnoCode(e) === "ESRCH") return; // ended meanwhile
    throw e;
  }
  for (let i = 0; i < 200; i++) {
    if (!ownerAlive(owner)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new UserError(`container process ${owner.pid} did not stop within 10 seconds`);
}
