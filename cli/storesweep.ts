// Every command that opens the store first sweeps what dead processes left in it (runtime/sweep.ts:
// scratch folders such as a killed load's, mounts, containers, active snapshots, lock markers). A build
// sweeps by itself, beside opening its store (builder/build.ts); commands that never open the store skip it.
import type { Command } from "commander";
import { storePaths } from "../common/storepaths.js";

// build sweeps by itself; system check reports (and with --repair removes) what a sweep would remove
const NO_STORE = new Set(["build", "plan", "help", "completion", "manifest", "check"]);

/** The sweep for the command about to run (commander's preAction hook), if it opens the store at root. */
export async function sweepBeforeCommand(command: Command, root: string): Promise<void> {
  for (let c: Command | null = command; c !== null; c = c.parent) {
    if (NO_STORE.has(c.name())) return;
  }
  const { sweepIfStore } = await import("../runtime/sweep.js");
  await sweepIfStore(storePaths(root));
}
