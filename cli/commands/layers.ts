// `tsbuild layers IMAGE [--against OTHER] [--format json]`: where an image's bytes go, per layer
// (cli/layerwaste.ts counts), and how two images differ by layer and by file. Reads the store only.
import { hashToDigest, newHash, type Digest } from "../../common/digest.js";
import { storePaths } from "../../common/storepaths.js";
import { ContentStore, type ImageRecord } from "../../image/store.js";
import { readTar } from "../../image/tar/index.js";
import { openBlobAsTar } from "../../runtime/layerblob.js";
import { humanSize } from "../format.js";
import { tabwrite } from "../listformat.js";
import { compareFiles, WasteCounter, type ImageWaste } from "../layerwaste.js";
import { ellipsis } from "./history.js";

export interface LayersFlags {
  against?: string;
  format?: string;
  trunc?: boolean;
}

/** The history line of each layer (history entries that are not empty_layer, in order). */
function layerCommands(rec: ImageRecord): string[] {
  return (rec.config.history ?? []).filter((h) => !h.empty_layer).map((h) => h.created_by ?? "");
}

async function analyse(store: ContentStore, rec: ImageRecord, hash: boolean): Promise<ImageWaste> {
  const counter = new WasteCounter();
  const commands = layerCommands(rec);
  for (const [i, layer] of rec.manifest.layers.entries()) {
    counter.layer(rec.config.rootfs.diff_ids[i] ?? layer.digest, commands[i] ?? "");
    for await (const { entry, body } of readTar(await openBlobAsTar(store, layer.digest))) {
      let digest: string | undefined;
      if (hash && entry.type === "file") {
        const h = newHash();
        for await (const chunk of body) h.update(chunk as Buffer);
        digest = hashToDigest(h);
      }
      counter.entry({
        path: entry.path, type: entry.type, size: entry.size, mode: entry.mode,
        ...(entry.linkname !== undefined ? { linkname: entry.linkname } : {}), ...(digest ? { digest } : {}),
      });
    }
  }
  return counter.result();
}

function percent(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

export async function runLayers(root: string, name: string, flags: LayersFlags): Promise<void> {
  const store = await ContentStore.open(storePaths(root));
  const rec = await store.resolveImage(name);
  const other = flags.against !== undefined ? await store.resolveImage(flags.against) : undefined;
  const mine = await analyse(store, rec, other !== undefined);
  const json = flags.format === "json";
  const short = (d: string): string => d.slice(7, 19);
  const layerJson = (w: ImageWaste): unknown[] => w.layers.map((l) => ({
    index: l.index, digest: l.digest, created_by: l.createdBy, size: l.size,
    files_added: l.added, files_changed: l.changed, files_deleted: l.deleted, wasted_bytes: l.wastedBytes,
  }));
  if (other === undefined) {
    if (json) {
      process.stdout.write(`${JSON.stringify({ image: rec.configDigest, layers: layerJson(mine), size: mine.totalBytes, wasted_bytes: mine.wastedBytes, efficiency: mine.efficiency })}\n`);
      return;
    }
    const lines = ["LAYER\tSIZE\tADDED\tCHANGED\tDELETED\tWASTED\tCREATED BY"];
    for (const l of mine.layers) {
      const by = l.createdBy.replaceAll("\t", " ");
      lines.push([short(l.digest), humanSize(l.size), l.added, l.changed, l.deleted, humanSize(l.wastedBytes), flags.trunc === false ? by : ellipsis(by, 60)].join("\t"));
    }
    process.stdout.write(`${tabwrite(lines.join("\n"))}\n\n`);
    process.stdout.write(`Total: ${humanSize(mine.totalBytes)} in ${mine.layers.length} layers; wasted: ${humanSize(mine.wastedBytes)} (files a later layer overwrites or deletes); efficiency: ${percent(mine.efficiency)}\n`);
    return;
  }
  const theirs = await analyse(store, other, true);
  const shared = commonPrefix(rec.config.rootfs.diff_ids, other.config.rootfs.diff_ids);
  const files = compareFiles(mine.files, theirs.files);
  if (json) {
    process.stdout.write(`${JSON.stringify({
      image: rec.configDigest, against: other.configDigest, shared_layers: shared,
      only_in_image: layerJson(mine).slice(shared), only_in_against: layerJson(theirs).slice(shared),
      files: files.map((f) => ({ change: f.kind, path: f.path })),
    })}\n`);
    return;
  }
  const out: string[] = [`${shared} layer${shared === 1 ? "" : "s"} shared`];
  const list = (who: string, w: ImageWaste): void => {
    const own = w.layers.slice(shared);
    out.push(`${own.length} only in ${who}${own.length > 0 ? ":" : ""}`);
    for (const l of own) out.push(`  ${short(l.digest)}  ${humanSize(l.size).padStart(8)}  ${ellipsis(l.createdBy.replaceAll("\t", " "), 70)}`);
  };
  list(name, mine);
  list(flags.against as string, theirs);
  out.push(`files (${name} -> ${flags.against as string}): ${files.length === 0 ? "none differ" : ""}`);
  for (const f of files) out.push(`${f.kind} ${f.path}`);
  process.stdout.write(`${out.join("\n")}\n`);
}

function commonPrefix(a: readonly Digest[], b: readonly Digest[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}
