// Running and timing one command; medians; peak memory from GNU time's "Maximum resident set size".
import { spawn } from "node:child_process";

export interface RunResult {
  seconds: number;
  /** Peak resident set size in bytes, when measured with /usr/bin/time -v. */
  peakRssBytes?: number;
}

/** Runs a command to completion (output kept only to explain a failure); throws when it fails. */
export function runCommand(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ seconds: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (s: string) => {
      stderr = (stderr + s).slice(-20_000); // the tail explains a failure
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const seconds = (performance.now() - started) / 1000;
      if (code === 0) resolve({ seconds, stderr });
      else reject(new Error(`${cmd} ${args.join(" ")}: exit ${code}\n${stderr.split("\n").slice(-15).join("\n")}`));
    });
  });
}

/** Times a command; with memory, under /usr/bin/time -v (its own cost is a few milliseconds). */
export async function timeCommand(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; memory?: boolean } = {}): Promise<RunResult> {
  if (!opts.memory) return { seconds: (await runCommand(cmd, args, opts.env)).seconds };
  const { seconds, stderr } = await runCommand("/usr/bin/time", ["-v", cmd, ...args], opts.env);
  const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  return { seconds, peakRssBytes: m ? Number(m[1]) * 1024 : undefined };
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}
