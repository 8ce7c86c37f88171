// What a garbage-collecting command prints while it waits for builds in progress (they hold the store
// shared, it needs it alone): a wait is then not taken for a hang.

/** An onWait for withExclusiveLock that says so on stderr, once. */
export function waitingForBuilds(command: string): (holders: number) => void {
  return (n) => void process.stderr.write(`${command}: waiting for ${n} build${n === 1 ? "" : "s"} in progress to finish\n`);
}
