// Registers `tsbuild cache ls|du|prune` on the program; the command modules load lazily.
import type { Command } from "commander";

export function registerCacheCommands(program: Command, rootOf: (cmd: Command) => string): void {
  const cache = program.command("cache").description("Inspect and prune the build cache");

  cache
    .command("ls")
    .description("List build cache entries, most recently used first")
    .option("--format <format>", "json")
    .action(async (opts: { format?: string }, cmd: Command) => {
      const { runCacheLs } = await import("./commands/cache.js");
      await runCacheLs(rootOf(cmd), opts);
    });

  cache
    .command("du")
    .description("Show the build cache's total size and entry count")
    .action(async (_opts: unknown, cmd: Command) => {
      const { runCacheDu } = await import("./commands/cache.js");
      await runCacheDu(rootOf(cmd));
    });

  cache
    .command("prune")
    .description("Remove build cache, least recently used first; what images need is always kept")
    .option("-a, --all", "also remove cache entries of snapshots that images use (the images stay whole)")
    .option("--keep-storage <size>", "keep at most this much cache (e.g. 5GB)")
    .option("--keep-duration <duration>", "keep entries used within this long (e.g. 24h)")
    .option("-f, --force", "do not prompt for confirmation")
    .action(async (opts: { all?: boolean; keepStorage?: string; keepDuration?: string; force?: boolean }, cmd: Command) => {
      const { runCachePrune } = await import("./commands/cache.js");
      await runCachePrune(rootOf(cmd), opts);
    });
}
