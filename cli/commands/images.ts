// `tsbuild images`: the store's images, the short way Docker shows them; dangling ones as <none>:<none>.
import { UserError } from "../../common/errors.js";
import { storePaths } from "../../common/storepaths.js";
import { ContentStore, type ImageRecord } from "../../image/store.js";
import { parseReference } from "../../image/reference.js";
import { humanSize, timeAgo } from "../format.js";
import { formatList } from "../listformat.js";
import { LayerSizes } from "../../cache/layersizes.js";
import { dockerSize } from "./sizes.js";

interface ImagesFlags {
  all?: boolean;
  quiet?: boolean;
  digests?: boolean;
  trunc?: boolean;
  filter: string[];
  format?: string;
}

interface Row {
  repository: string;
  tag: string;
  id: string;
  digest: string;
  created: string | undefined;
  size: number;
  dangling: boolean;
  full?: string;
  labels: Record<string, string>;
}

function rowsOf(rec: ImageRecord, size: number): Row[] {
  // a multi-platform image is one row, known by its index digest (Docker's containerd image store)
  const entry = rec.index?.descriptor.digest;
  const base = { id: entry ?? rec.configDigest, digest: entry ?? rec.manifestDigest, created: rec.config.created, size, labels: rec.config.config?.Labels ?? {} };
  if (rec.refs.length === 0) return [{ ...base, repository: "<none>", tag: "<none>", dangling: true }];
  return rec.refs.map((full) => {
    const r = parseReference(full);
    const fam = r.familiar;
    const colon = fam.lastIndexOf(":");
    return { ...base, repository: fam.slice(0, colon), tag: fam.slice(colon + 1), dangling: false, full };
  });
}

/** Docker's reference filter: a glob on the familiar name or name:tag. */
function globMatch(pattern: string, text: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]")}$`);
  return re.test(text);
}

/** Docker's `label=KEY` or `label=KEY=VALUE`. */
function hasLabel(r: Row, spec: string): boolean {
  const eq = spec.indexOf("=");
  return eq < 0 ? spec in r.labels : r.labels[spec.slice(0, eq)] === spec.slice(eq + 1);
}

const FILTERS = "dangling=true|false, reference=PATTERN, before=IMAGE, since=IMAGE, label=KEY[=VALUE]";

async function applyFilters(store: ContentStore, rows: Row[], filters: string[], reference: string | undefined): Promise<Row[]> {
  let out = rows;
  const refs = [...filters.filter((f) => f.startsWith("reference=")).map((f) => f.slice(10))];
  if (reference) refs.push(reference);
  for (const f of filters) {
    const eq = f.indexOf("=");
    const [k, v] = eq < 0 ? [f, ""] : [f.slice(0, eq), f.slice(eq + 1)];
    if (k === "dangling") {
      if (v !== "true" && v !== "false") throw new UserError(`invalid filter 'dangling=${v.slice(0, 40)}': must be true or false`);
      out = out.filter((r) => r.dangling === (v === "true"));
    } else if (k === "before" || k === "since") {
      // Docker compares creation times with the named image's (which is itself left out)
      const other = await store.resolveImage(v);
      const at = other.config.created ?? "";
      out = out.filter((r) => r.id !== (other.index?.descriptor.digest ?? other.configDigest) && (k === "before" ? (r.created ?? "") < at : (r.created ?? "") > at));
    } else if (k === "label") {
      out = out.filter((r) => hasLabel(r, v));
    } else if (k !== "reference") throw new UserError(`invalid filter '${f.slice(0, 80)}' (supported: ${FILTERS})`);
  }
  if (refs.length > 0) {
    out = out.filter((r) => !r.dangling && refs.some((p) => globMatch(p, `${r.repository}:${r.tag}`) || globMatch(p, r.repository)));
  }
  return out;
}

export async function runImages(root: string, reference: string | undefined, raw: Record<string, unknown>): Promise<void> {
  const flags = raw as unknown as ImagesFlags;
  const store = await ContentStore.open(storePaths(root));
  const sizes = new LayerSizes(store);
  const all: Row[] = [];
  for (const rec of await store.listImages()) all.push(...rowsOf(rec, await sizes.ofImage(rec)));
  const rows = await applyFilters(store, all, flags.filter ?? [], reference);
  rows.sort((a, b) => (b.created ?? "").localeCompare(a.created ?? "") || a.repository.localeCompare(b.repository));
  const noTrunc = flags.trunc === false;
  const id = (d: string): string => (noTrunc ? d : d.slice(7, 19));
  if (flags.quiet) {
    // One line per row, as docker prints them (an image with two tags shows twice).
    process.stdout.write(rows.map((r) => `${id(r.id)}\n`).join(""));
    return;
  }
  const table = `{{.Repository}}\t{{.Tag}}\t${flags.digests ? "{{.Digest}}\t" : ""}{{.ID}}\t{{.CreatedSince}}\t{{.Size}}`;
  process.stdout.write(formatList(flags.format, rows.map((r) => formatObject(r, id(r.id))), { table, headers: IMAGE_HEADERS }));
}

/** Header names of `docker images --format 'table …'`. */
const IMAGE_HEADERS: Record<string, string> = {
  ID: "IMAGE ID", CreatedSince: "CREATED", CreatedAt: "CREATED AT", VirtualSize: "VIRTUAL SIZE",
  SharedSize: "SHARED SIZE", UniqueSize: "UNIQUE SIZE",
};

/** Go's time.Time.String() for a UTC time: `2026-11-22 05:18:20.605455478 +0000 UTC`, seconds only. */
function goTime(iso: string | undefined): string {
  if (!iso) return "";
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return "";
  return `${t.toISOString().slice(0, 19).replace("T", " ")} +0000 UTC`;
}

/** The fields `docker images --format json` prints, in its order and spelling. */
function formatObject(r: Row, id: string): Record<string, string> {
  return {
    Containers: "N/A",
    CreatedAt: goTime(r.created),
    CreatedSince: timeAgo(r.created),
    Digest: r.digest || "<none>",
    ID: id,
    Repository: r.repository,
    SharedSize: "N/A",
    Size: humanSize(r.size),
    Tag: r.tag,
    UniqueSize: "N/A",
    VirtualSize: dockerSize(r.size),
  };
}
