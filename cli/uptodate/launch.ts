// How bin/tsbuild started this process, kept for the build's up-to-date recorder (cli/uptodate/record.ts).
// A build run any other way (a test calling main) records nothing: its memo could never be read.

/** The command line as bin/tsbuild received it and the bundle that runs it (dist/tsbuild.cjs). */
export interface Launch {
  argv: string[];
  bundle: string;
}

let current: Launch | undefined;

export function setLaunch(launch: Launch): void {
  current = launch;
}

export function launched(): Launch | undefined {
  return current;
}
