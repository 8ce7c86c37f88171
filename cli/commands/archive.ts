// load, save and import: images in and out of the store as files.
import { storePaths } from "../../common/storepaths.js";
import { ContentStore } from "../../image/store.js";
import { familiarString } from "../../image/reference.js";

async function openStore(root: string): Promise<ContentStore> {
  return ContentStore.open(storePaths(root));
}

export async function runLoad(root: string, opts: { input: string; quiet?: boolean }): Promise<void> {
  const { loadArchive } = await import("../../image/archive/index.js");
  const store = await openStore(root);
  const images = await loadArchive(store, opts.input);
  if (opts.quiet) return;
  for (const image of images) {
    if (image.refs.length === 0) process.stdout.write(`Loaded image ID: ${image.configDigest}\n`);
    for (const ref of image.refs) process.stdout.write(`Loaded image: ${familiarString(ref)}\n`);
  }
}

export async function runSave(root: string, names: string[], opts: { output: string; format: "docker" | "oci" }): Promise<void> {
  const { saveDockerArchive, saveOciArchive } = await import("../../image/archive/index.js");
  const store = await openStore(root);
  if (opts.format === "oci") await saveOciArchive(store, names, opts.output);
  else await saveDockerArchive(store, names, opts.output);
}

export async function runImport(root: string, file: string, name: string | undefined, opts: { change: string[]; message?: string }): Promise<void> {
  const { importRootfs } = await import("../../image/archive/index.js");
  const { applyChanges } = await import("../../builder/changes.js");
  const changes = await applyChanges(opts.change);
  const store = await openStore(root);
  const input = file === "-" ? process.stdin : file;
  const image = await importRootfs(store, input, name, {
    changes,
    ...(opts.message !== undefined ? { comment: opts.message } : {}),
  });
  process.stdout.write(`${image.configDigest}\n`);
}
