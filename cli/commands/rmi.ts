// `tsbuild rmi [-f] NAME|ID...`: as `docker rmi`. A tag of an image with other tags is only untagged;
// the last tag, or an id, removes the image from the index, then its blobs that nothing else needs.
// Every check is made before anything changes, so a refused removal leaves the store as it was. The
// whole command holds the store alone (cache/gc/collector.ts): a build in progress is waited for.
// Output as Docker's: `Untagged: app:1`, `Deleted: <image id>`, then `Deleted: <chain id>` for each
// layer (top first) whose blob really went (a layer another image or the build cache holds stays).
import type { Digest } from "../../common/digest.js";
import { UserError } from "../../common/errors.js";
import { storePaths, type StorePaths } from "../../common/storepaths.js";
import { withCollector } from "../../cache/gc/collector.js";
import type { GcReport } from "../../cache/gc/apply.js";
import { chainIds } from "../../image/config.js";
import { parseReference, shortId, tryParseReference } from "../../image/reference.js";
import { entryDescriptor, type ContentStore, type ImageRecord } from "../../image/store.js";
import { waitingForBuilds } from "../waitnotice.js";
import { isRunning, listContainers, type ContainerRecord } from "../../runtime/containers.js";

/** A removal Docker refuses ("conflict: …"). */
export class ImageConflictError extends UserError {}

export async function runRmi(root: string, names: string[], opts: { force?: boolean }): Promise<void> {
  const paths = storePaths(root);
  const failures = await withCollector(paths, async (gc) => {
    const failed: string[] = [];
    for (const name of names) {
      try {
        const { lines, removed } = await removeOne(gc.store, paths, name, opts.force === true);
        if (removed) lines.push(...freedLayerLines(removed, await gc.collect()));
        process.stdout.write(lines.map((l) => `${l}\n`).join(""));
      } catch (e) {
        if (!(e instanceof UserError)) throw e;
        failed.push(e.message);
      }
    }
    return failed;
  }, waitingForBuilds("rmi"));
  if (failures.length > 0) throw new UserError(failures.join("; "));
}

/** `Deleted: <chain id>` for each layer of the removed image whose blob the collection removed, top first. */
export function freedLayerLines(rec: ImageRecord, gc: GcReport, prefix = "Deleted: "): string[] {
  const gone = new Set(gc.blobs);
  const diffIds = rec.config.rootfs.diff_ids;
  const chains = chainIds(diffIds);
  const lines: string[] = [];
  for (let i = diffIds.length - 1; i >= 0; i--) {
    if (gone.has(rec.manifest.layers[i]?.digest as Digest)) lines.push(`${prefix}${chains[i]}`);
  }
  return lines;
}

async function removeOne(store: ContentStore, paths: StorePaths, name: string, force: boolean): Promise<{ lines: string[]; removed?: ImageRecord }> {
  const rec = await store.resolveImage(name);
  const users = (await listContainers(paths)).filter((c) => c.imageId === rec.configDigest);
  const ref = name.startsWith("sha256:") ? undefined : tryParseReference(name);
  const byTag = ref !== undefined && ref.digest === undefined && rec.refs.includes(ref.full);
  if (byTag && rec.refs.length > 1) {
    await store.untag(name);
    return { lines: [`Untagged: ${ref.familiar}`] };
  }
  checkContainers(rec, users, force, byTag ? name : undefined);
  // Docker's message says "repositories" even when the tags share one repository.
  if (!byTag && !force && rec.refs.length > 1) {
    throw new ImageConflictError(`conflict: unable to delete ${shortId(rec.configDigest)} (must be forced) - image is referenced in multiple repositories`);
  }
  const untagged = await store.removeImage(rec.configDigest);
  if (users.length > 0) {
    // -f on an image a stopped container uses: as Docker, only the tags go; the image stays, dangling.
    await store.registerImages([{ manifest: entryDescriptor(rec), tags: [] }]);
    return { lines: untagged.map((r) => `Untagged: ${parseReference(r).familiar}`) };
  }
  return { lines: [...untagged.map((r) => `Untagged: ${parseReference(r).familiar}`), `Deleted: ${rec.configDigest}`], removed: rec };
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
