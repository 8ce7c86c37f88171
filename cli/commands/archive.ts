// load, save and import: images in and out of the store as files.
import { storePaths } from "../../common/storepaths.js";
import { ContentStore, type ImageRecord } from "../../image/store.js";
import { unpackArrived } from "../unpackarrived.js";
import { withSharedLock } from "../../common/lock.js";
import { familiarString } from "../../image/reference.js";
import { createWriteStream } from "node:fs";
import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { UserError } from "../../common/errors.js";
import { ownedName } from "../../common/owner.js";

async function openStore(root: string): Promise<ContentStore> {
  return ContentStore.open(storePaths(root));
}

const stderrLine = (line: string): void => void process.stderr.write(`${line}\n`);

export async function runLoad(root: string, opts: { input?: string; quiet?: boolean }): Promise<void> {
  const { loadArchive } = await import("../../image/archive/index.js");
  const store = await openStore(root);
  const load = (file: string): Promise<ImageRecord[]> => loadArchive(store, file, { onLoaded: (records) => unpackArrived(store, records, stderrLine) });
  const images = opts.input === undefined || opts.input === "-" ? await loadFromStdin(store, load) : await load(opts.input);
  if (opts.quiet) return;
  for (const image of images) {
    if (image.refs.length === 0) process.stdout.write(`Loaded image ID: ${image.configDigest}\n`);
    for (const ref of image.refs) process.stdout.write(`Loaded image: ${familiarString(ref)}\n`);
  }
}

/**
 * `docker load < image.tar`: standard input spooled to a scratch file in the store (an archive is read
 * twice: its index, then its blobs), named for this process so a killed load's is swept, and removed.
 */
async function loadFromStdin<T>(store: ContentStore, load: (file: string) => Promise<T>): Promise<T> {
  if (process.stdin.isTTY) throw new UserError("requested load from standard input, but it is a terminal: use -i FILE or redirect an archive into it");
  const scratch = join(store.paths.tmp, ownedName("stdin"));
  try {
    await pipeline(process.stdin, createWriteStream(scratch, { flags: "wx" }));
    const { size } = await stat(scratch);
    if (size === 0) throw new UserError("requested load from standard input, but it is empty");
    return await load(scratch);
  } finally {
    await rm(scratch, { force: true });
  }
}

export async function runSave(root: string, names: string[], opts: { output?: string; format: "docker" | "oci"; platform?: string }): Promise<void> {
  const { saveArchiveToStream, saveDockerArchive, saveOciArchive } = await import("../../image/archive/index.js");
  const { parsePlatform } = await import("../../image/registry/platform.js");
  const platform = opts.platform !== undefined ? parsePlatform(opts.platform) : undefined;
  const store = await openStore(root);
  const { withImagesPinned } = await import("../pinimages.js");
  const output = opts.output;
  if (output === undefined || output === "-") {
    // Docker's rule: the archive goes to standard output, but never onto a terminal.
    if (process.stdout.isTTY) throw new UserError("cowardly refusing to save to a terminal: use -o FILE or redirect standard output");
    await withImagesPinned(store, names, platform, () => saveArchiveToStream(store, names, process.stdout, opts.format !== "oci", platform));
    return;
  }
  await withImagesPinned(store, names, platform, () =>
    opts.format === "oci" ? saveOciArchive(store, names, output, platform) : saveDockerArchive(store, names, output, platform));
}

export async function runImport(root: string, file: string, name: string | undefined, opts: { change: string[]; message?: string; platform?: string }): Promise<void> {
  const { importRootfs } = await import("../../image/archive/index.js");
  const { applyChanges } = await import("../../builder/changes.js");
  const { parsePlatform } = await import("../../image/registry/platform.js");
  const changes = await applyChanges(opts.change);
  const store = await openStore(root);
  const input = file === "-" ? process.stdin : file;
  // holding the store shared, as a build does: a prune must not take the layer before it is tagged
  const image = await withSharedLock(store.paths.gcLock, async () => {
    const rec = await importRootfs(store, input, name, {
      changes,
      ...(opts.message !== undefined ? { comment: opts.message } : {}),
      ...(opts.platform !== undefined ? { platform: parsePlatform(opts.platform) } : {}),
    });
    await unpackArrived(store, [rec], stderrLine);
    return rec;
  });
  process.stdout.write(`${image.configDigest}\n`);
}
