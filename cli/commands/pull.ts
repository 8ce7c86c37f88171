// `tsbuild pull NAME[:TAG|@DIGEST]`: prints what Docker prints (per-layer status lines, `Digest:`,
// `Status:`, the full name); the per-layer printer is shared with push and build's auto-pull.
import { storePaths } from "../../common/storepaths.js";
import type { RegistryOptions } from "../../image/registry/api.js";
import { parsePlatform } from "../../image/registry/platform.js";
import type { TransferSink } from "../../image/registry/progress.js";
import type { PullResult } from "../../image/registry/pull.js";
import { familiarName, parseReference } from "../../image/reference.js";
import { UserError } from "../../common/errors.js";
import { ContentStore } from "../../image/store.js";
import { withSharedLock } from "../../common/lock.js";

export interface PullFlags {
  platform?: string;
  /** Every platform of a multi-platform image, kept as its index. */
  allPlatforms?: boolean;
  quiet?: boolean;
  allTags?: boolean;
}

/** Plain `<id>: <status>` lines, each status once per layer (byte counts are not printed). */
export function layerLines(write: (line: string) => void): TransferSink {
  return (e) => {
    if (e.type === "layer") write(`${e.id}: ${e.status}`);
  };
}

/** `1.0: Pulling from team/app`, as Docker heads a pull. */
export function pullHeader(name: string): string {
  const ref = parseReference(name);
  return `${ref.digest ?? ref.tag ?? "latest"}: Pulling from ${ref.path}`;
}

export function pullSummary(r: PullResult): string[] {
  return [
    `Digest: ${r.digest}`,
    r.changed ? `Status: Downloaded newer image for ${r.familiar}` : `Status: Image is up to date for ${r.familiar}`,
  ];
}

/** `pull -a REPO`: every tag the registry lists for the repository, one pull each, then its name. */
async function pullAllTags(store: ContentStore, name: string, flags: PullFlags, registry: RegistryOptions): Promise<void> {
  const ref = parseReference(name);
  if (/[:@][^/]*$/.test(name)) throw new UserError(`tag can't be used with --all-tags/-a: ${name.slice(0, 200)}`);
  const { openRepository } = await import("../../image/registry/client.js");
  const { pullImage } = await import("../../image/registry/pull.js");
  const platform = flags.platform !== undefined ? parsePlatform(flags.platform) : undefined;
  const tags = await openRepository(ref, registry).listTags();
  if (tags.length === 0) throw new UserError(`${familiarName(ref.domain, ref.path)}: the registry lists no tags`);
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  for (const tag of tags) {
    const one = `${ref.domain}/${ref.path}:${tag}`;
    if (!flags.quiet) out(pullHeader(one));
    const r = await pullImage(store, one, { registry, ...(platform ? { platform } : {}), ...(flags.quiet ? {} : { onEvent: layerLines(out) }) });
    if (!flags.quiet) out(`Digest: ${r.digest}`);
  }
  out(`${ref.domain}/${ref.path}`);
}

export async function runPull(root: string, name: string, flags: PullFlags, registry: RegistryOptions): Promise<void> {
  // Holding the store shared, as a build does (whose base pulls hold it already): a prune must not take
  // the blobs of an image before it is tagged.
  return withSharedLock(storePaths(root).gcLock, () => pullLocked(root, name, flags, registry));
}

async function pullLocked(root: string, name: string, flags: PullFlags, registry: RegistryOptions): Promise<void> {
  const store = await ContentStore.open(storePaths(root));
  if (flags.allTags) return pullAllTags(store, name, flags, registry);
  const { pullImage } = await import("../../image/registry/pull.js");
  const platform = flags.platform !== undefined ? parsePlatform(flags.platform) : undefined;
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  if (!flags.quiet) out(pullHeader(name));
  if (flags.allPlatforms && platform) throw new UserError("--all-platforms and --platform cannot be given together");
  const r = await pullImage(store, name, {
    registry,
    ...(platform ? { platform } : {}),
    ...(flags.allPlatforms ? { allPlatforms: true } : {}),
    ...(flags.quiet ? {} : { onEvent: layerLines(out) }),
  });
  if (!flags.quiet) for (const l of pullSummary(r)) out(l);
  out(r.ref);
}
