// `tsbuild history`: an image's config history, newest first, as `docker history` prints it. Only the
// top row carries an image id: the layers below are not images of their own (`<missing>`).
import { storePaths } from "../../common/storepaths.js";
import { ContentStore, type ImageRecord } from "../../image/store.js";
import { humanSize, table, timeAgo } from "../format.js";
import { LayerSizes } from "../../cache/layersizes.js";
import { formatList } from "../listformat.js";
import { parsePlatform } from "../../image/registry/platform.js";

export interface HistoryFlags {
  trunc?: boolean;
  quiet?: boolean;
  human?: boolean;
  format?: string;
  /** Which image of a multi-platform one (default: this machine's). */
  platform?: string;
}

export interface HistoryRow {
  id: string;
  created: string | undefined;
  createdBy: string;
  size: number;
  comment: string;
}

/** Docker's stringutils.Ellipsis: at most max characters, the last one "…" when cut. */
export function ellipsis(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : `${chars.slice(0, max - 1).join("")}…`;
}

export async function historyRows(store: ContentStore, rec: ImageRecord): Promise<HistoryRow[]> {
  const sizes = new LayerSizes(store);
  const layers = rec.manifest.layers;
  let layerIndex = 0;
  const rows: HistoryRow[] = [];
  for (const h of rec.config.history ?? []) {
    let size = 0;
    if (!h.empty_layer) {
      const layer = layers[layerIndex++];
      if (layer) size = await sizes.of(layer.digest);
    }
    rows.push({ id: "<missing>", created: h.created, createdBy: h.created_by ?? "", size, comment: h.comment ?? "" });
  }
  rows.reverse();
  if (rows[0]) rows[0].id = rec.configDigest;
  return rows;
}

export async function runHistory(root: string, name: string, flags: HistoryFlags): Promise<void> {
  const store = await ContentStore.open(storePaths(root));
  const rec = await store.resolveImage(name, flags.platform !== undefined ? parsePlatform(flags.platform) : undefined);
  const rows = await historyRows(store, rec);
  const noTrunc = flags.trunc === false;
  const id = (s: string): string => (s === "<missing>" || noTrunc ? s : s.slice(7, 19));
  if (flags.quiet) {
    process.stdout.write(rows.map((r) => `${id(r.id)}\n`).join(""));
    return;
  }
  const human = flags.human !== false;
  if (flags.format !== undefined) {
    const objects = rows.map((r) => {
      const createdBy = r.createdBy.replaceAll("\t", " ");
      return {
        Comment: r.comment, CreatedAt: rfc3339(r.created), CreatedBy: noTrunc ? createdBy : ellipsis(createdBy, 45),
        CreatedSince: timeAgo(r.created), ID: id(r.id), Size: human ? humanSize(r.size) : String(r.size),
      };
    });
    const table = `{{.ID}}\t${human ? "{{.CreatedSince}}" : "{{.CreatedAt}}"}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}`;
    process.stdout.write(formatList(flags.format, objects, { table, headers: HISTORY_HEADERS }));
    return;
  }
  const header = ["IMAGE", human ? "CREATED" : "CREATED AT", "CREATED BY", "SIZE", "COMMENT"];
  const body = rows.map((r) => {
    const createdBy = r.createdBy.replaceAll("\t", " ");
    return [
      id(r.id),
      human ? timeAgo(r.created) : rfc3339(r.created),
      noTrunc ? createdBy : ellipsis(createdBy, 45),
      human ? humanSize(r.size) : String(r.size),
      r.comment,
    ];
  });
  process.stdout.write(table(header, body));
}

/** Header names of `docker history --format 'table …'`. */
const HISTORY_HEADERS: Record<string, string> = { ID: "IMAGE", CreatedSince: "CREATED", CreatedAt: "CREATED AT", CreatedBy: "CREATED BY" };

/** Docker's `-H=false` CREATED AT: RFC 3339 to the second. */
function rfc3339(iso: string | undefined): string {
  if (!iso) return "";
  const t = new Date(iso);
  return Number.isNaN(t.getTime()) ? iso : t.toISOString().replace(/\.\d+Z$/, "Z");
}
