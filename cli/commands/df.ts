// `tsbuild system df [-v]`: disk usage by images, containers, volumes (none) and the build cache, as
// `docker system df` shows it. Layer sizes are content sizes (layersize.ts); a layer shared by several
// images counts once.
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import type { Digest } from "../../common/digest.js";
import { errnoCode } from "../../common/errors.js";
import { storePaths, type StorePaths } from "../../common/storepaths.js";
import { CacheIndex } from "../../cache/index.js";
import { parseReference, shortId } from "../../image/reference.js";
import { ContentStore, type ImageRecord } from "../../image/store.js";
import { isRunning, listContainers, writableLayer, type ContainerRecord } from "../../runtime/containers.js";
import { table, timeAgo } from "../format.js";
import { LayerSizes } from "./layersize.js";
import { dockerSize } from "./sizes.js";

interface Usage {
  images: ImageRecord[];
  /** Distinct layers: content size and how many images hold each. */
  layers: Map<Digest, { size: number; images: number }>;
  activeImages: Set<Digest>;
  containers: { rec: ContainerRecord; size: number; running: boolean }[];
  cacheEntries: number;
  cacheSize: number;
}

async function measure(paths: StorePaths): Promise<Usage> {
  const store = await ContentStore.open(paths);
  const sizes = new LayerSizes(store);
  const images = await store.listImages();
  const layers = new Map<Digest, { size: number; images: number }>();
  const seenIds = new Set<Digest>();
  for (const rec of images) {
    if (seenIds.has(rec.configDigest)) continue;
    seenIds.add(rec.configDigest);
    for (const d of new Set(rec.manifest.layers.map((l) => l.digest))) {
      const known = layers.get(d);
      if (known) known.images++;
      else layers.set(d, { size: await sizes.of(d), images: 1 });
    }
  }
  const containers = [];
  for (const rec of await listContainers(paths)) {
    containers.push({ rec, size: await treeSize(writableLayer(paths, rec).upper), running: isRunning(rec) });
  }
  const activeImages = new Set(containers.map((c) => c.rec.imageId));
  const entries = await new CacheIndex(paths.cache).list();
  const cacheByChain = new Map<Digest, number>();
  for (const e of entries) cacheByChain.set(e.chainId, e.layerSize ?? 0);
  const cacheSize = [...cacheByChain.values()].reduce((a, b) => a + b, 0);
  return { images, layers, activeImages, containers, cacheEntries: entries.length, cacheSize };
}

function withPercent(reclaimable: number, total: number): string {
  return total > 0 ? `${dockerSize(reclaimable)} (${Math.floor((100 * reclaimable) / total)}%)` : dockerSize(reclaimable);
}

export async function runSystemDf(root: string, opts: { verbose?: boolean }): Promise<void> {
  const u = await measure(storePaths(root));
  const ids = new Set(u.images.map((r) => r.configDigest));
  const total = [...u.layers.values()].reduce((n, l) => n + l.size, 0);
  const activeLayers = new Set(u.images.filter((r) => u.activeImages.has(r.configDigest)).flatMap((r) => r.manifest.layers.map((l) => l.digest)));
  const reclaimable = [...u.layers].filter(([d]) => !activeLayers.has(d)).reduce((n, [, l]) => n + l.size, 0);
  const cSize = u.containers.reduce((n, c) => n + c.size, 0);
  const cReclaim = u.containers.filter((c) => !c.running).reduce((n, c) => n + c.size, 0);
  const activeImageCount = [...ids].filter((id) => u.activeImages.has(id)).length;
  if (opts.verbose) return printVerbose(u);
  process.stdout.write(table(["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], [
    ["Images", String(ids.size), String(activeImageCount), dockerSize(total), withPercent(reclaimable, total)],
    ["Containers", String(u.containers.length), String(u.containers.filter((c) => c.running).length), dockerSize(cSize), withPercent(cReclaim, cSize)],
    ["Local Volumes", "0", "0", "0B", "0B"],
    ["Build Cache", String(u.cacheEntries), "0", dockerSize(u.cacheSize), dockerSize(u.cacheSize)],
  ]));
}

function printVerbose(u: Usage): void {
  const rows = u.images.flatMap((rec) => {
    let shared = 0;
    let unique = 0;
    for (const d of new Set(rec.manifest.layers.map((l) => l.digest))) {
      const l = u.layers.get(d);
      if (!l) continue;
      if (l.images > 1) shared += l.size;
      else unique += l.size;
    }
    const containers = String(u.containers.filter((c) => c.rec.imageId === rec.configDigest).length);
    const cells = [shortId(rec.configDigest), timeAgo(rec.config.created), dockerSize(shared + unique), dockerSize(shared), dockerSize(unique), containers];
    if (rec.refs.length === 0) return [["<none>", "<none>", ...cells]];
    return rec.refs.map((r) => {
      const fam = parseReference(r).familiar;
      const colon = fam.lastIndexOf(":");
      return [fam.slice(0, colon), fam.slice(colon + 1), ...cells];
    });
  });
  process.stdout.write("Images space usage:\n\n");
  process.stdout.write(table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"], rows));
  process.stdout.write("\nContainers space usage:\n\n");
  process.stdout.write(table(["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"],
    u.containers.map((c) => [c.rec.id.slice(0, 12), c.rec.image, JSON.stringify([c.rec.path, ...c.rec.args].join(" ")), "0", dockerSize(c.size), timeAgo(c.rec.created), c.running ? "Up" : `Exited (${c.rec.exitCode ?? 0})`, c.rec.name])));
  process.stdout.write("\nLocal Volumes space usage:\n\n");
  process.stdout.write(table(["VOLUME NAME", "LINKS", "SIZE"], []));
  process.stdout.write(`\nBuild cache usage: ${dockerSize(u.cacheSize)}\n`);
}

/** Bytes of regular files and symlink targets under dir (a missing dir is empty). */
async function treeSize(dir: string): Promise<number> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return 0;
    throw e;
  }
  let total = 0;
  for (const entry of entries) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) total += await treeSize(p);
    else if (entry.isFile() || entry.isSymbolicLink()) total += (await lstat(p)).size;
  }
  return total;
}
