// `tsbuild image prune [-a] [-f]`: removes dangling images (with -a: every image no container uses),
// then what nothing needs any more (the one collector, cache/gc/: blobs, snapshots). Asks first on a
// terminal, as Docker does. The space reclaimed is the content size of the layers whose blobs went, as
// Docker counts it.
import { createInterface } from "node:readline/promises";
import type { Digest } from "../../common/digest.js";
import { UserError } from "../../common/errors.js";
import { storePaths } from "../../common/storepaths.js";
import { withCollector, type Collector } from "../../cache/gc/collector.js";
import { parseReference } from "../../image/reference.js";
import { entryDescriptor, type ImageRecord } from "../../image/store.js";
import { listContainers } from "../../runtime/containers.js";
import { freedLayerLines } from "./rmi.js";
import { dockerSize } from "./sizes.js";
import { waitingForBuilds } from "../waitnotice.js";

const WARN_DANGLING = "WARNING! This will remove all dangling images.";
const WARN_ALL = "WARNING! This will remove all images without at least one container associated to them.";

const GO_DURATION = /^(\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/;
const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Docker's `until=`: a Go duration before now (`24h`, `1h30m`), Unix seconds, or a date (RFC 3339 or 2006-01-02). */
export function untilTime(value: string, now = Date.now()): number {
  if (GO_DURATION.test(value)) {
    let ms = 0;
    for (const [, n, unit] of value.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(n) * (UNIT_MS[unit as string] as number);
    return now - ms;
  }
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new UserError(`invalid filter 'until=${value.slice(0, 60)}': a duration (24h), Unix seconds or a date`);
  return t;
}

/** `until=…`, `label=K[=V]`, `label!=K[=V]`, as `docker image prune --filter` takes them. */
export function pruneFilter(filters: string[], now = Date.now()): (r: ImageRecord) => boolean {
  const tests = filters.map((f): ((r: ImageRecord) => boolean) => {
    const m = /^(until|label!?)=(.*)$/.exec(f);
    if (!m) throw new UserError(`invalid filter '${f.slice(0, 80)}' (supported: until=DURATION|TIME, label=KEY[=VALUE], label!=KEY[=VALUE])`);
    const [, key, value = ""] = m;
    if (key === "until") {
      const limit = untilTime(value, now);
      return (r) => Date.parse(r.config.created ?? "") < limit;
    }
    const eq = value.indexOf("=");
    const has = (r: ImageRecord): boolean => {
      const labels = r.config.config?.Labels ?? {};
      return eq < 0 ? value in labels : labels[value.slice(0, eq)] === value.slice(eq + 1);
    };
    return key === "label" ? has : (r) => !has(r);
  });
  return (r) => tests.every((t) => t(r));
}

export async function runImagePrune(root: string, opts: { all?: boolean; force?: boolean; filter?: string[] }): Promise<void> {
  const matches = pruneFilter(opts.filter ?? []);
  if (!opts.force) await confirm(opts.all ? WARN_ALL : WARN_DANGLING);
  const pruned = await withCollector(storePaths(root), (gc) => pruneImages(gc, opts.all === true, matches), waitingForBuilds("image prune"));
  if (pruned.lines.length > 0) process.stdout.write(`Deleted Images:\n${pruned.lines.join("\n")}\n\n`);
  process.stdout.write(`Total reclaimed space: ${dockerSize(pruned.reclaimed)}\n`);
}

/**
 * Takes the images to prune out of the index and collects what nothing needs any more. Lines as
 * Docker's (`untagged: …`, `deleted: <id>`, `deleted: <chain>` per layer that went); reclaimed: the
 * content size of the layers whose blobs went (Docker's count). Also system prune's images part.
 */
export async function pruneImages(gc: Collector, all: boolean, matches: (r: ImageRecord) => boolean = () => true): Promise<{ lines: string[]; reclaimed: number; diskBytes: number }> {
  const used = new Set((await listContainers(gc.paths)).map((c) => c.imageId));
  const victims = (await gc.store.listImages()).filter((r) => !used.has(r.configDigest) && (all || r.refs.length === 0) && matches(r));
  // content sizes (as images and system df show them), measured while the blobs are still there
  const sizes = new Map<Digest, number>();
  for (const d of new Set(victims.flatMap((r) => r.manifest.layers.map((l) => l.digest)))) sizes.set(d, await gc.sizes.of(d));
  const untagged = await gc.store.removeManifests(new Set(victims.map((r) => entryDescriptor(r).digest)));
  const report = await gc.collect();
  const ids = [...new Set(victims.map((r) => r.configDigest))];
  const layers = [...new Set(victims.flatMap((r) => freedLayerLines(r, report, "deleted: ")))];
  const lines = ids.length === 0 ? [] : [...untagged.map((r) => `untagged: ${parseReference(r).familiar}`), ...ids.map((id) => `deleted: ${id}`), ...layers];
  const gone = new Set(report.blobs);
  let reclaimed = 0;
  for (const [d, size] of sizes) if (gone.has(d)) reclaimed += size;
  return { lines, reclaimed, diskBytes: report.bytes };
}

/** Docker's prompt; without a terminal to ask on, -f is required. */
async function confirm(warning: string): Promise<void> {
  if (!process.stdin.isTTY) {
    throw new UserError("image prune asks for confirmation, but standard input is not a terminal: use -f to prune without asking");
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await rl.question(`${warning}\nAre you sure you want to continue? [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) throw new UserError("image prune cancelled");
  } finally {
    rl.close();
  }
}
