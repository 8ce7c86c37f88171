// `tsbuild push NAME[:TAG]`: Docker's output (`The push refers to repository [...]`, per-layer
// `Pushed` / `Layer already exists`, then `TAG: digest: sha256:… size: N`).
import { storePaths } from "../../common/storepaths.js";
import type { RegistryOptions } from "../../image/registry/api.js";
import type { TransferSink } from "../../image/registry/progress.js";
import { parseReference } from "../../image/reference.js";
import { ContentStore } from "../../image/store.js";
import { layerLines } from "./pull.js";

export interface PushFlags {
  quiet?: boolean;
}

/** Pushes one reference, writing Docker's lines with `write` (nothing but the name when quiet). */
export async function pushWithOutput(store: ContentStore, name: string, registry: RegistryOptions, write: (line: string) => void, quiet = false): Promise<void> {
  const { pushImage } = await import("../../image/registry/push.js");
  const ref = parseReference(name);
  if (!quiet) write(`The push refers to repository [${ref.domain}/${ref.path}]`);
  const onEvent: TransferSink | undefined = quiet ? undefined : layerLines(write);
  const r = await pushImage(store, name, { registry, ...(onEvent ? { onEvent } : {}) });
  write(quiet ? r.ref : `${r.tag}: digest: ${r.digest} size: ${r.size}`);
}

export async function runPush(root: string, name: string, flags: PushFlags, registry: RegistryOptions): Promise<void> {
  const store = await ContentStore.open(storePaths(root));
  await pushWithOutput(store, name, registry, (l) => void process.stdout.write(`${l}\n`), flags.quiet === true);
}
