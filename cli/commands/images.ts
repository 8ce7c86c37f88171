// `tsbuild images`: the store's images, the short way Docker shows them; dangling ones as <none>:<none>.
import { UserError } from "../../common/errors.js";
import { storePaths } from "../../common/storepaths.js";
import { ContentStore, type ImageRecord } from "../../image/store.js";
import { parseReference } from "../../image/reference.js";
import { humanSize, table, timeAgo } from "../format.js";

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
}

export function imageSize(rec: ImageRecord): number {
  return rec.manifest.layers.reduce((n, l) => n + l.size, 0);
}

function rowsOf(rec: ImageRecord): Row[] {
  const base = { id: rec.configDigest, digest: rec.manifestDigest, created: rec.config.created, size: imageSize(rec) };
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

function applyFilters(rows: Row[], filters: string[], reference: string | undefined): Row[] {
  let out = rows;
  const refs = [...filters.filter((f) => f.startsWith("reference=")).map((f) => f.slice(10))];
  if (reference) refs.push(reference.includes(":") ? reference : `${reference}`);
  for (const f of filters) {
    const [k, v] = f.split("=", 2);
    if (k === "dangling") {
      if (v !== "true" && v !== "false") throw new UserError(`invalid filter 'dangling=${v}': must be true or false`);
      out = out.filter((r) => r.dangling === (v === "true"));
    } else if (k !== "reference") throw new UserError(`invalid filter '${f}' (supported: dangling=true|false, reference=PATTERN)`);
  }
  if (refs.length > 0) {
    out = out.filter((r) => !r.dangling && refs.some((p) => globMatch(p, `${r.repository}:${r.tag}`) || globMatch(p, r.repository)));
  }
  return out;
}

export async function runImages(root: string, reference: string | undefined, raw: Record<string, unknown>): Promise<void> {
  const flags = raw as unknown as ImagesFlags;
  const store = await ContentStore.open(storePaths(root));
  const rows = applyFilters((await store.listImages()).flatMap(rowsOf), flags.filter ?? [], reference);
  rows.sort((a, b) => (b.created ?? "").localeCompare(a.created ?? "") || a.repository.localeCompare(b.repository));
  const noTrunc = flags.trunc === false;
  const id = (d: string): string => (noTrunc ? d : d.slice(7, 19));
  if (flags.quiet) {
    process.stdout.write([...new Set(rows.map((r) => id(r.id)))].map((s) => `${s}\n`).join(""));
    return;
  }
  if (flags.format === "json") {
    for (const r of rows) {
      process.stdout.write(JSON.stringify({
        Repository: r.repository, Tag: r.tag, ID: id(r.id), Digest: r.digest, CreatedAt: r.created ?? "",
        CreatedSince: timeAgo(r.created), Size: humanSize(r.size),
      }) + "\n");
    }
    return;
  }
  if (flags.format !== undefined) throw new UserError(`unsupported --format ${flags.format} (json is supported)`);
  const header = ["REPOSITORY", "TAG", ...(flags.digests ? ["DIGEST"] : []), "IMAGE ID", "CREATED", "SIZE"];
  const body = rows.map((r) => [r.repository, r.tag, ...(flags.digests ? [r.digest] : []), id(r.id), timeAgo(r.created), humanSize(r.size)]);
  process.stdout.write(table(header, body));
}
