// `tsbuild image prune [-a] [-f]`: removes dangling images (with -a: every image no container uses),
// then the blobs nothing needs any more. Asks first on a terminal, as Docker does. The space reclaimed
// is the content size of the layers whose blobs went, as Docker counts it.
import { createInterface } from "node:readline/promises";
import { UserError } from "../../common/errors.js";
import { storePaths } from "../../common/storepaths.js";
import { updateIndex, refNameOf } from "../../image/layoutindex.js";
import { parseReference } from "../../image/reference.js";
import { ContentStore, type ImageRecord } from "../../image/store.js";
import { listContainers } from "../../runtime/containers.js";
import { collectUnused, freedLayerLines } from "./rmi.js";
import { LayerSizes } from "./layersize.js";
import { dockerSize } from "./sizes.js";

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
  const paths = storePaths(root);
  const store = await ContentStore.open(paths);
  const used = new Set((await listContainers(paths)).map((c) => c.imageId));
  const victims = (await store.listImages()).filter((r) => !used.has(r.configDigest) && (opts.all || r.refs.length === 0) && matches(r));
  // Content sizes (as images and system df show them), measured while the blobs are still there.
  const sizes = new LayerSizes(store);
  for (const r of victims) await sizes.ofImage(r);
  const manifests = new Set(victims.map((r) => r.manifestDigest));
  const untagged = await updateIndex(paths, (m) => ({
    manifests: m.filter((d) => !manifests.has(d.digest)),
    result: m.filter((d) => manifests.has(d.digest)).flatMap((d) => refNameOf(d) ?? []),
  }));
  const gc = await collectUnused(store, paths, "image prune");
  const ids = [...new Set(victims.map((r) => r.configDigest))];
  if (ids.length > 0) {
    const layers = [...new Set(victims.flatMap((r) => freedLayerLines(r, gc, "deleted: ")))];
    const lines = [...untagged.map((r) => `untagged: ${parseReference(r).familiar}`), ...ids.map((id) => `deleted: ${id}`), ...layers];
    process.stdout.write(`Deleted Images:\n${lines.join("\n")}\n\n`);
  }
  let reclaimed = 0;
  for (const d of new Set(victims.flatMap((r) => r.manifest.layers.map((l) => l.digest)))) {
    if (gc.removed.includes(d)) reclaimed += await sizes.of(d);
  }
  process.stdout.write(`Total reclaimed space: ${dockerSize(reclaimed)}\n`);
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
