// `tsbuild rmi [-f] NAME|ID...`: as `docker rmi`. A tag of an image with other tags is only untagged;
// the last tag, or an id, removes the image from the index, then its blobs that nothing else needs.
// Every check is made before anything changes, so a refused removal leaves the store as it was.
import type { Digest } from "../../common/digest.js";
import { UserError } from "../../common/errors.js";
import { storePaths, type StorePaths } from "../../common/storepaths.js";
import { blobsOfManifest, collectGarbage, type GcResult } from "../../image/gc.js";
import { parseReference, shortId, tryParseReference } from "../../image/reference.js";
import { ContentStore, type ImageRecord } from "../../image/store.js";
import { isRunning, listContainers, type ContainerRecord } from "../../runtime/containers.js";

/** A removal Docker refuses ("conflict: …"). */
export class ImageConflictError extends UserError {}

export async function runRmi(root: string, names: string[], opts: { force?: boolean }): Promise<void> {
  const paths = storePaths(root);
  const store = await ContentStore.open(paths);
  const failures: string[] = [];
  let removedAny = false;
  for (const name of names) {
    try {
      const lines = await removeOne(store, paths, name, opts.force === true);
      removedAny ||= lines.some((l) => l.startsWith("Deleted"));
      process.stdout.write(lines.map((l) => `${l}\n`).join(""));
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      failures.push(e.message);
    }
  }
  if (removedAny) await collectUnused(store, paths);
  if (failures.length > 0) throw new UserError(failures.join("; "));
}

/** Removes unreferenced blobs, keeping what existing containers' images need. */
export async function collectUnused(store: ContentStore, paths: StorePaths): Promise<GcResult> {
  const keep: Digest[] = [];
  for (const c of await listContainers(paths)) keep.push(...(await blobsOfManifest(store, c.manifestDigest)));
  return collectGarbage(store, keep);
}

async function removeOne(store: ContentStore, paths: StorePaths, name: string, force: boolean): Promise<string[]> {
  const rec = await store.resolveImage(name);
  const users = (await listContainers(paths)).filter((c) => c.imageId === rec.configDigest);
  const ref = name.startsWith("sha256:") ? undefined : tryParseReference(name);
  const byTag = ref !== undefined && ref.digest === undefined && rec.refs.includes(ref.full);
  if (byTag && rec.refs.length > 1) {
    await store.untag(name);
    return [`Untagged: ${ref.familiar}`];
  }
  checkContainers(rec, users, force, byTag ? name : undefined);
  if (!byTag && !force && !singleRepository(rec.refs)) {
    throw new ImageConflictError(`conflict: unable to delete ${shortId(rec.configDigest)} (must be forced) - image is referenced in multiple repositories`);
  }
  const untagged = await store.removeImage(rec.configDigest);
  return [...untagged.map((r) => `Untagged: ${parseReference(r).familiar}`), `Deleted: ${rec.configDigest}`];
}

function checkContainers(rec: ImageRecord, users: ContainerRecord[], force: boolean, tag: string | undefined): void {
  const running = users.find(isRunning);
  if (running) {
    throw new ImageConflictError(`conflict: unable to delete ${shortId(rec.configDigest)} (cannot be forced) - image is being used by running container ${running.id.slice(0, 12)}`);
  }
  const user = users[0];
  if (force || user === undefined) return;
  if (tag !== undefined) {
    throw new ImageConflictError(`conflict: unable to remove repository reference "${tag}" (must force) - container ${user.id.slice(0, 12)} is using its referenced image ${shortId(rec.configDigest)}`);
  }
  throw new ImageConflictError(`conflict: unable to delete ${shortId(rec.configDigest)} (must be forced) - image is being used by stopped container ${user.id.slice(0, 12)}`);
}

/** Docker lets `rmi ID` untag several tags of one repository without -f, not of several. */
function singleRepository(refs: string[]): boolean {
  return new Set(refs.map((r) => parseReference(r).name)).size <= 1;
}
