// `tsbuild push NAME[:TAG]`: Docker's output (`The push refers to repository [...]`, per-layer
// `Pushed` / `Layer already exists`, then `TAG: digest: sha256:… size: N`).
import { storePaths } from "../../common/storepaths.js";
import type { RegistryOptions } from "../../image/registry/api.js";
import type { TransferSink } from "../../image/registry/progress.js";
import { familiarName, parseReference } from "../../image/reference.js";
import { UserError } from "../../common/errors.js";
import { ContentStore } from "../../image/store.js";
import { layerLines } from "./pull.js";

export interface PushFlags {
  quiet?: boolean;
  allTags?: boolean;
}

/** Pushes one reference, writing Docker's lines with `write` (nothing but the name when quiet). */
export async function pushWithOutput(store: ContentStore, name: string, registry: RegistryOptions, write: (line: string) => void, quiet = false): Promise<void> {
  const { pushImage } = await import("../../image/registry/push.js");
  const ref = parseReference(name);
  if (!quiet) write(`The push refers to repository [${ref.domain}/${ref.path}]`);
  const onEvent: TransferSink | undefined = quiet ? undefined : layerLines(write);
  const { withImagesPinned } = await import("../pinimages.js");
  const r = await withImagesPinned(store, [name], undefined, () => pushImage(store, name, { registry, ...(onEvent ? { onEvent } : {}) }));
  write(quiet ? r.ref : `${r.tag}: digest: ${r.digest} size: ${r.size}`);
}

export async function runPush(root: string, name: string, flags: PushFlags, registry: RegistryOptions): Promise<void> {
  const store = await ContentStore.open(storePaths(root));
  const write = (l: string): void => void process.stdout.write(`${l}\n`);
  if (!flags.allTags) return pushWithOutput(store, name, registry, write, flags.quiet === true);
  // `push -a REPO`: every tag the store holds for the repository, in order
  if (/[:@][^/]*$/.test(name)) throw new UserError(`tag can't be used with --all-tags/-a: ${name.slice(0, 200)}`);
  const ref = parseReference(name);
  const repo = `${ref.domain}/${ref.path}:`;
  const tags = (await store.listImages()).flatMap((r) => r.refs).filter((r) => r.startsWith(repo)).sort();
  if (tags.length === 0) throw new UserError(`An image does not exist locally with the tag: ${familiarName(ref.domain, ref.path)}`);
  for (const tag of tags) await pushWithOutput(store, tag, registry, write, flags.quiet === true);
}
