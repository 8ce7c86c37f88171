// `tsbuild system df [-v]`: disk usage by images, containers, volumes (none) and the build cache, as
// `docker system df` shows it. Layer sizes are content sizes (layersize.ts, the same numbers `images`
// and `history` show); a layer shared by several images counts once, and -v lists each layer once
// with the number of images sharing it. RECLAIMABLE is what the prunes would free: images no container
// uses (`image prune -a`), stopped containers, cache entries no image holds (`cache prune`).
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import type { Digest } from "../../common/digest.js";
import { errnoCode } from "../../common/errors.js";
import { storePaths, type StorePaths } from "../../common/storepaths.js";
import { CacheIndex, type CacheEntry } from "../../cache/index.js";
import { chainIds } from "../../image/config.js";
import { parseReference, shortId } from "../../image/reference.js";
import { ContentStore, type ImageRecord } from "../../image/store.js";
import { isRunning, listContainers, writableLayer, type ContainerRecord } from "../../runtime/containers.js";
import { table, timeAgo } from "../format.js";
import { LayerSizes } from "../../cache/layersizes.js";
import { formatList } from "../listformat.js";
import { dockerSize } from "./sizes.js";

interface Usage {
  images: ImageRecord[];
  /** Distinct layers: content size and how many images hold each. */
  layers: Map<Digest, { size: number; images: number }>;
  activeImages: Set<Digest>;
  containers: { rec: ContainerRecord; size: number; running: boolean }[];
  cacheEntries: CacheEntry[];
  /** Content size of each cache entry's layer, by chain id. */
  cacheSizes: Map<Digest, number>;
  cacheSize: number;
  /** Bytes of cache entries whose snapshot no image uses. */
  cacheReclaimable: number;
  /** Chain ids the images' layers make (cache entries on them are shared with an image). */
  imageChains: Set<Digest>;
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
  const entries = (await new CacheIndex(paths.cache).list()).sort((a, b) => b.lastUsed - a.lastUsed);
  const imageChains = new Set(images.flatMap((r) => chainIds(r.config.rootfs.diff_ids)));
  const cacheByChain = new Map<Digest, number>();
  // Content sizes, as for images (the entry's layerSize is its tar's size).
  for (const e of entries) cacheByChain.set(e.chainId, e.diffId ? await sizes.of(e.diffId) : (e.layerSize ?? 0));
  const sum = (list: [Digest, number][]): number => list.reduce((a, [, b]) => a + b, 0);
  const cacheSize = sum([...cacheByChain]);
  const cacheReclaimable = sum([...cacheByChain].filter(([c]) => !imageChains.has(c)));
  return { images, layers, activeImages, containers, cacheEntries: entries, cacheSizes: cacheByChain, cacheSize, cacheReclaimable, imageChains };
}

function withPercent(reclaimable: number, total: number): string {
  return total > 0 ? `${dockerSize(reclaimable)} (${Math.floor((100 * reclaimable) / total)}%)` : dockerSize(reclaimable);
}

/** Header names of `docker system df --format 'table …'`. */
const DF_HEADERS: Record<string, string> = { Type: "TYPE", TotalCount: "TOTAL", Active: "ACTIVE", Size: "SIZE", Reclaimable: "RECLAIMABLE" };

export async function runSystemDf(root: string, opts: { verbose?: boolean; format?: string }): Promise<void> {
  const u = await measure(storePaths(root));
  const ids = new Set(u.images.map((r) => r.configDigest));
  const total = [...u.layers.values()].reduce((n, l) => n + l.size, 0);
  const activeLayers = new Set(u.images.filter((r) => u.activeImages.has(r.configDigest)).flatMap((r) => r.manifest.layers.map((l) => l.digest)));
  const reclaimable = [...u.layers].filter(([d]) => !activeLayers.has(d)).reduce((n, [, l]) => n + l.size, 0);
  const cSize = u.containers.reduce((n, c) => n + c.size, 0);
  const cReclaim = u.containers.filter((c) => !c.running).reduce((n, c) => n + c.size, 0);
  const activeImageCount = [...ids].filter((id) => u.activeImages.has(id)).length;
  if (opts.verbose) return printVerbose(u, { total, reclaimable });
  const rows = [
    ["Images", String(ids.size), String(activeImageCount), dockerSize(total), withPercent(reclaimable, total)],
    ["Containers", String(u.containers.length), String(u.containers.filter((c) => c.running).length), dockerSize(cSize), withPercent(cReclaim, cSize)],
    ["Local Volumes", "0", "0", "0B", "0B"],
    ["Build Cache", String(u.cacheEntries.length), "0", dockerSize(u.cacheSize), dockerSize(u.cacheReclaimable)],
  ];
  if (opts.format !== undefined) {
    // `docker system df --format json`: one object a line, Docker's field names and order
    const objects = rows.map(([type, count, active, size, rec]) => ({ Active: active, Reclaimable: rec, Size: size, TotalCount: count, Type: type }));
    process.stdout.write(formatList(opts.format, objects, { table: "{{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}", headers: DF_HEADERS }));
    return;
  }
  process.stdout.write(table(["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], rows));
}

function printVerbose(u: Usage, images: { total: number; reclaimable: number }): void {
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
  process.stdout.write("\nLayers space usage:\n\n");
  const layerRows = [...u.layers].map(([d, l]) => [shortId(d), dockerSize(l.size), String(l.images)]);
  process.stdout.write(table(["LAYER", "SIZE", "SHARED BY"], layerRows));
  process.stdout.write(`\nImages total: ${dockerSize(images.total)} in ${u.layers.size} layers, reclaimable: ${dockerSize(images.reclaimable)}\n`);
  process.stdout.write("\nContainers space usage:\n\n");
  process.stdout.write(table(["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"],
    u.containers.map((c) => [c.rec.id.slice(0, 12), c.rec.image, JSON.stringify([c.rec.path, ...c.rec.args].join(" ")), "0", dockerSize(c.size), timeAgo(c.rec.created), c.running ? "Up" : `Exited (${c.rec.exitCode ?? 0})`, c.rec.name])));
  process.stdout.write("\nLocal Volumes space usage:\n\n");
  process.stdout.write(table(["VOLUME NAME", "LINKS", "SIZE"], []));
  process.stdout.write(`\nBuild cache usage: ${dockerSize(u.cacheSize)}\n\n`);
  const now = Date.now();
  process.stdout.write(table(["CACHE ID", "CACHE TYPE", "SIZE", "CREATED", "LAST USED", "SHARED"], u.cacheEntries.map((e) => [
    e.key.slice(7, 19), "regular", dockerSize(u.cacheSizes.get(e.chainId) ?? 0), timeAgo(new Date(e.createdAt).toISOString(), now),
    timeAgo(new Date(e.lastUsed).toISOString(), now), String(u.imageChains.has(e.chainId)),
  ])));
}

/** Bytes of regular files and symlink targets under dir (a missing dir is empty). */
export async function treeSize(dir: string): Promise<number> {
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
