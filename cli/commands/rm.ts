// `tsbuild rm [-f] NAME|ID...`: removes container records and their writable layers.
import { errnoCode, UserError } from "../../common/errors.js";
import { storePaths } from "../../common/storepaths.js";
import { findContainer, isRunning, removeContainer } from "../../runtime/containers.js";

export async function runRm(root: string, names: string[], opts: { force?: boolean }): Promise<void> {
  const paths = storePaths(root);
  const failures: string[] = [];
  for (const name of names) {
    try {
      const rec = await findContainer(paths, name);
      if (isRunning(rec)) {
        if (!opts.force) {
          throw new UserError(`cannot remove container "/${rec.name}": container is running: stop the container before removing or force remove`);
        }
        await stopRun(rec.pid as number);
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
async function stopRun(pid: number): Promise<void> {
  process.kill(pid, "SIGTERM");
  for (let i = 0; i < 200; i++) {
    try {
      process.kill(pid, 0);
    } catch (e) {
      if (errnoCode(e) === "ESRCH") return; // gone
      throw e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new UserError(`container process ${pid} did not stop within 10 seconds`);
}
