// COPY's one fast path, and its switch: after a small change in a large context, the files the
// previous build of the same step copied and that have not changed since are taken from that build
// instead of being copied again and read back for the layer (builder/copy/reuse.ts does it; their
// layer members come from the previous layer, runtime/layer/donor.ts). The rule for it, and for any
// fast path after it: nothing the image or a later step can observe differs (layer bytes, link counts
// of files and folders, mtimes, modes): test/fastcopy.test.ts builds with it on and off and compares
// the layers byte for byte.
// TSBUILD_FAST_COPY=0 turns it off: a COPY then copies every file and its layer reads every file.
// (A COPY used to be stacked on its previous build's snapshot as well, writing only what changed;
// overlayfs gives a folder found in two layers st_nlink 1, which a later RUN could see, so that went.)
import type { Digest } from "../common/digest.js";
import { traced } from "../common/trace.js";
import type { LayerReuse } from "../runtime/layer/index.js";
import type { StepRecord } from "../cache/key.js";
import { stepKey } from "../cache/key.js";
import { MIN_REUSED_FILES, unchangedInputs } from "./copy/reuse.js";
import type { CopyReuse } from "./copy/types.js";
import type { BuildSession } from "./session.js";

/** Whether the fast path is on: unless TSBUILD_FAST_COPY=0. */
export function fastCopyEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.TSBUILD_FAST_COPY !== "0";
}

/** What a COPY's work needs to know to take files from its previous build. */
export interface CopyInputs {
  /** This step's record (with its parent key and the digests of its inputs). */
  record: StepRecord;
  /** The last build of the same Dockerfile step (builder/fsstep.ts WorkContext.previous). */
  previous: StepRecord | undefined;
  /** The step's upper dir: where taken files are written. */
  upper: string;
  /** How many sources (matched paths and heredocs) the COPY has: only a single one is sped up. */
  sources: number;
}

/**
 * Runs `copy` with the reuse it may use (undefined: copy every file), and gives what the layer writer
 * may then take from the previous layer.
 */
export async function copyWithFastPath(
  session: BuildSession, inputs: CopyInputs, copy: (reuse: CopyReuse | undefined) => Promise<void>,
): Promise<{ layerReuse?: LayerReuse }> {
  const donor = fastCopyEnabled() ? await donorOf(session, inputs) : undefined;
  if (donor === undefined) {
    await copy(undefined);
    return {};
  }
  const reuse: CopyReuse = { upper: inputs.upper, donor: donor.dir, unchanged: donor.unchanged, reused: new Set() };
  await traced("copy fast path", () => copy(reuse)); // (test/fastcopy.test.ts looks for this line)
  return reuse.reused.size === 0 ? {} : { layerReuse: { donorTar: donor.tar, reused: reuse.reused } };
}

/**
 * The previous build's diff and layer, when files can be taken from them: one source (with several,
 * a later one may replace what an earlier one left), the same instruction, definition and parent, its
 * snapshot and layer blob still in the store, and enough unchanged files to be worth it.
 */
async function donorOf(session: BuildSession, inputs: CopyInputs): Promise<{ dir: string; tar: string; unchanged: Set<string> } | undefined> {
  const { record, previous } = inputs;
  if (previous === undefined || session.settings.noCache || inputs.sources !== 1) return undefined;
  if (previous.instruction !== record.instruction || previous.parentKey !== record.parentKey) return undefined;
  if (JSON.stringify(previous.definition) !== JSON.stringify(record.definition)) return undefined;
  const unchanged = unchangedInputs(previous.inputs, record.inputs);
  if (unchanged.size < MIN_REUSED_FILES) return undefined;
  await session.pin("entry", [stepKey(previous)]); // its snapshot and layer are read below
  const entry = await session.cache.get(stepKey(previous));
  const diffId: Digest | undefined = entry?.diffId;
  if (entry === undefined || diffId === undefined) return undefined;
  if (!(await session.snapshotter.has(entry.chainId)) || !(await session.store.has(diffId))) return undefined;
  return { dir: await session.snapshotter.diffDir(entry.chainId), tar: session.store.blobPath(diffId), unchanged };
}
