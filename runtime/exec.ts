// Running the system tools tsbuild drives (mount, umount, runc, tar).
import { spawn } from "node:child_process";

// execa, loaded on first use: importing it costs ~100 ms, most of a no-op rebuild's budget, and a
// build whose steps are all cached never spawns anything.
type Execa = typeof import("execa").execa;
let loaded: Execa | undefined;

export async function loadExeca(): Promise<Execa> {
  loaded ??= (await import("execa")).execa;
  return loaded;
}

export interface ToolResult {
  exitCode: number;
  /** stdout and stderr, interleaved as they came. */
  output: string;
}

/**
 * Runs a short-lived tool to its end (stdin closed) and returns its exit code and output; never
 * throws for a non-zero exit. Plain child_process: each RUN step mounts and unmounts, and execa's
 * import alone would cost more than the tools themselves.
 */
export function runTool(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"], ...(opts.env ? { env: opts.env } : {}) });
    const chunks: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => chunks.push(c));
    child.stderr.on("data", (c: Buffer) => chunks.push(c));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      resolve({ exitCode: code ?? (signal ? 128 : 1), output: Buffer.concat(chunks).toString("utf8") });
    });
  });
}
