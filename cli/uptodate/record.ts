// Writing the up-to-date memo (cli/uptodate/memo.ts) at the end of a build that changed nothing: every
// step came from the local cache, nothing outside the machine was asked, and the tags still name the
// images they named before. What it relied on is written down as checks: the context's files (their
// stats, folders included, so that a file added or removed shows), the Dockerfile and ignore files, the
// store's index, each cache entry used with its snapshot and layer, and a store at rest (nothing to
// sweep, no lock held). Only builds whose every input is in those checks are recorded (eligible()).
import { constants, lstatSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { digestHex, isDigest, type Digest } from "../../common/digest.js";
import { stepIdentity } from "../../cache/key.js";
import { entryFile, stepRecordFile } from "../../cache/index.js";
import { errnoCode } from "../../common/errors.js";
import { outsideReached } from "../../common/outside.js";
import { storePaths, type StorePaths } from "../../common/storepaths.js";
import { pinsDir } from "../../common/pins.js";
import { openContext, type BuildContext } from "../../cache/context.js";
import { activeMarkersDir } from "../../runtime/snapshotfiles.js";
import { refNameOf } from "../../image/layoutindex.js";
import { writeFileVia } from "../../image/blobs.js";
import { tagReference } from "../../image/store.js";
import type { ImageIndex } from "../../image/config.js";
import type { BuildEvent } from "../../builder/events.js";
import type { Launch } from "./launch.js";
import { MEMO_VERSION, firstLine, namesIn, readIfThere, invocationKey, memoDir, memoPath, statKeyOf, type Check, type Memo, type TreeCheck } from "./memo.js";
import { native } from "../../common/native.js";

const { S_IFMT, S_IFDIR, S_IFREG } = constants;


/** A file changed within the same clock tick as our look could keep its stat (git's "racy clean"). */
const RACY_MARGIN_NS = 50_000_000n;
const COARSE_MARGIN_NS = 2_000_000_000n;
/** Why looking at the context may fail where the build did not: no memo then. */
const LOOK_FAILURES = new Set(["EACCES", "EPERM", "ENOENT", "ENOTDIR", "ELOOP", "ENAMETOOLONG"]);
/** Why a store may not take the memo: the build stands, the next run is a build. */
const WRITE_FAILURES = new Set(["EACCES", "EPERM", "EROFS", "ENOSPC", "EDQUOT"]);
/** Memo files kept per store, least recently written first out. */
const MAX_MEMOS = 64;

/** The build flags that may be set for a build to be recorded: each is in the command line, and no other input. */
export interface RecordableFlags {
  cacheFrom?: string[];
  cacheTo?: string[];
  pull?: boolean;
  push?: boolean;
  output?: string[];
  iidfile?: string;
  metadataFile?: string;
  report?: string;
  reportHtml?: string;
  secret?: string[];
  ssh?: string[];
  buildContext?: string[];
  plan?: unknown;
  cacheFilter?: string[];
  allow?: string[];
  addHost?: string[];
  shmSize?: string;
  ulimit?: string[];
  cache: boolean;
  file?: string;
  platform?: string;
}

/**
 * Whether a build with these flags can be replayed: its context is a local folder, its Dockerfile a file,
 * it writes nothing but the store and its output, reaches no registry, and prints plain lines or the id.
 */
export function eligible(flags: RecordableFlags, contextIsLocal: boolean, progress: string, quiet: boolean): boolean {
  const none = (v: unknown[] | undefined): boolean => v === undefined || v.length === 0;
  return contextIsLocal && flags.file !== "-" && flags.cache && (quiet || progress === "plain")
    && none(flags.cacheFrom) && none(flags.cacheTo) && flags.pull !== true && flags.push !== true && none(flags.output)
    && flags.iidfile === undefined && flags.metadataFile === undefined && flags.report === undefined && flags.reportHtml === undefined
    && none(flags.secret) && none(flags.ssh) && none(flags.buildContext) && flags.plan === undefined && none(flags.cacheFilter)
    && none(flags.allow) && none(flags.addHost) && flags.shmSize === undefined && none(flags.ulimit)
    && (flags.platform === undefined || !flags.platform.includes(","));
}

/** One build's recorder: what it printed and which cache entries it took, then the memo if it changed nothing. */
export class UpToDateRecorder {
  readonly output: [1 | 2, string][] = [];
  private readonly hits: Digest[] = [];
  /** Where each hit sits in the Dockerfile: its last-build record (cache/steps/) is part of what a hit leaves. */
  private readonly hitSteps: { stage: number; ordinal: number }[] = [];
  private readonly paths: StorePaths;
  private readonly indexBefore: string | undefined;

  /** When the build began (before it read anything): what changed since cannot be trusted by its stat. */
  private readonly startedNs = BigInt(Date.now()) * 1_000_000n;

  constructor(private readonly launch: Launch, root: string) {
    this.paths = storePaths(root);
    this.indexBefore = readIfThere(this.paths.indexJson);
  }

  print(fd: 1 | 2, text: string): void {
    this.output.push([fd, text]);
  }

  handle(e: BuildEvent): void {
    if (e.type === "step-done" && e.step.filesystem && e.result.cached && e.result.key !== undefined && isDigest(e.result.key)) {
      this.hits.push(e.result.key);
      this.hitSteps.push({ stage: e.step.stageIndex, ordinal: e.step.index });
    }
  }

  /**
   * Writes the memo if the build changed nothing: every filesystem step a hit, nothing reached outside,
   * the image already under every tag it was asked for (or already listed, untagged).
   */
  async finish(done: { allCached: boolean; manifestDigest: string; imageBlobs: readonly string[]; tags: string[]; contextGiven: string; contextDir: string; dockerfile: string }): Promise<void> {
    if (!done.allCached || outsideReached()) return;
    const after = readIfThere(this.paths.indexJson);
    if (this.indexBefore === undefined || after === undefined) return;
    if (!sameTargets(this.indexBefore, after, done.tags.map(tagReference), done.manifestDigest)) return;
    const context = await openContext(done.contextDir, done.dockerfile);
    const checks: Check[] = [];
    const fresh = new RacyWatch();
    const seen = new Set<string>();
    const stat = (path: string): void => {
      if (seen.has(path)) return;
      seen.add(path);
      const st = statSync(path, { bigint: true, throwIfNoEntry: false }); // as the build reads it: through links
      if (st === undefined) checks.push({ kind: "absent", path });
      else {
        fresh.see(st.mtimeNs, st.ctimeNs);
        checks.push({ kind: "stat", path, key: statKeyOf(st) });
      }
    };
    try {
      stat(done.contextGiven); // given as a link: where it leads (a link made to lead elsewhere changes the build)
      stat(done.dockerfile);
      // both places an ignore file may be (cache/context.ts): one appearing changes the build
      stat(join(dirname(done.dockerfile), `${basename(done.dockerfile)}.dockerignore`));
      stat(join(done.contextDir, ".dockerignore"));
      checks.push(await contextTree(context, fresh));
    } catch (e) {
      // a folder the build never read may be unreadable, or an entry go while we look: no memo then
      if (LOOK_FAILURES.has(errnoCode(e) ?? "")) return;
      throw e;
    }
    // anything changed since the build began (it may have read it before or after): no memo
    if (fresh.changedSince(this.startedNs)) return;
    if (!this.storeChecks(checks, after, done)) return;
    const memo: Memo = {
      version: MEMO_VERSION,
      invocation: invocationKey(this.launch.argv, process.cwd(), process.env, this.launch.bundle, this.paths.root),
      checks,
      touch: this.hits.map((k) => this.keyFile(k)),
      output: this.output,
    };
    const file = memoPath(this.paths.root, memo.invocation);
    try {
      await writeFileVia(this.paths.tmp, file, JSON.stringify(memo)); // via scratch: a killed write is swept there
      boundMemos(memoDir(this.paths.root));
    } catch (e) {
      // the build succeeded: a store that cannot take the memo (full, read-only) only makes the next run a build
      if (!WRITE_FAILURES.has(errnoCode(e) ?? "")) throw e;
    }
  }

  private keyFile(key: Digest): string {
    return entryFile(this.paths.cache, key);
  }

  /** The store facts: its index, each entry taken (its head, snapshot and layer), the image's blobs, a store at rest. False if one is already gone. */
  private storeChecks(checks: Check[], index: string, done: { manifestDigest: string; imageBlobs: readonly string[]; dockerfile: string }): boolean {
    const p = this.paths;
    checks.push({ kind: "bytes", path: p.indexJson, text: index });
    const blob = (d: string): string => join(p.blobs, digestHex(d as Digest));
    const manifestPath = blob(done.manifestDigest);
    const manifest = parseJson(readIfThere(manifestPath));
    if (manifest === undefined) return false;
    const { config, layers } = manifest as { config?: { digest?: string }; layers?: { digest?: string }[] };
    // the bases' and --from images' own manifests and configs too: one named by digest is not in index.json
    const blobs = [done.manifestDigest, config?.digest, ...(layers ?? []).map((l) => l.digest), ...done.imageBlobs];
    for (const d of blobs) {
      if (d === undefined || !isDigest(d) || statSync(blob(d), { throwIfNoEntry: false }) === undefined) return false;
      checks.push({ kind: "exists", path: blob(d) });
    }
    for (const key of this.hits) {
      const head = firstLine(this.keyFile(key));
      const entry = parseJson(head) as { chainId?: string; diffId?: string } | undefined;
      if (head === undefined || entry?.chainId === undefined || !isDigest(entry.chainId)) return false;
      checks.push({ kind: "head", path: this.keyFile(key), text: head });
      // a snapshot there stays there; one not made yet (a --cache-from hit) is made when a step runs on it
      const snapshot = join(p.snapshots, "chains", digestHex(entry.chainId), "meta.json");
      if (statSync(snapshot, { throwIfNoEntry: false }) !== undefined) checks.push({ kind: "exists", path: snapshot });
      if (entry.diffId !== undefined && isDigest(entry.diffId)) checks.push({ kind: "exists", path: blob(entry.diffId) });
    }
    // a hit leaves its step's last-build record naming it (fsstep.ts rememberStep): another build of the
    // Dockerfile that changed the record makes the next run a build, which writes it back
    for (const { stage, ordinal } of this.hitSteps) {
      const file = stepRecordFile(p.cache, stepIdentity(done.dockerfile, stage, ordinal));
      const head = firstLine(file);
      if (head === undefined) return false;
      checks.push({ kind: "head", path: file, text: head });
    }
    // at rest: nothing a killed process left for a sweep, no other build or prune running
    for (const dir of [p.tmp, p.runcState, activeMarkersDir(p.snapshots), pinsDir(p)]) checks.push({ kind: "empty", path: dir });
    const readers = namesIn(p.locks).filter((n) => n.endsWith(".readers")).sort();
    checks.push({ kind: "names", path: p.locks, names: readers });
    for (const r of readers) checks.push({ kind: "empty", path: join(p.locks, r) });
    return true;
  }
}

/** Every tag names the same manifest before and after, that manifest being the build's (untagged: listed before). */
function sameTargets(before: string, after: string, tags: string[], manifestDigest: string): boolean {
  const b = parseJson(before) as ImageIndex | undefined;
  const a = parseJson(after) as ImageIndex | undefined;
  if (!Array.isArray(b?.manifests) || !Array.isArray(a?.manifests)) return false;
  if (tags.length === 0) return b.manifests.some((d) => d.digest === manifestDigest);
  const target = (index: ImageIndex, tag: string): string | undefined => index.manifests.find((d) => refNameOf(d) === tag)?.digest;
  return tags.every((t) => target(b, t) === manifestDigest && target(a, t) === manifestDigest);
}

/**
 * The context's folders and the files a build can see (the ignore rules applied), with the keys a
 * replay compares (memo.ts TreeCheck): each folder's lstat, each file's as native scanDir gives it.
 */
async function contextTree(context: BuildContext, fresh: RacyWatch): Promise<TreeCheck> {
  const dirs: TreeCheck["dirs"] = [];
  const walk = async (rel: string): Promise<void> => {
    const dir = rel === "" ? context.dir : join(context.dir, rel);
    const st = (rel === "" ? statSync : lstatSync)(dir, { bigint: true }); // memo.ts treeHolds: the root through a link
    fresh.see(st.mtimeNs, st.ctimeNs);
    const files: [string, string][] = [];
    dirs.push([rel, statKeyOf(st), files]);
    const scan = await native().scanDir(dir);
    for (let i = 0; i < scan.names.length; i++) {
      const name = scan.names[i] as string;
      const type = (scan.modes[i] as number) & S_IFMT;
      const childRel = rel === "" ? name : `${rel}/${name}`;
      if (type === S_IFDIR) {
        if (context.mustDescend(childRel)) await walk(childRel);
      } else if (type === S_IFREG && context.filter(childRel)) {
        const key = scan.keys[i] as string;
        const [, , , mtimeNs, ctimeNs] = key.split(":");
        fresh.see(BigInt(mtimeNs ?? "0"), BigInt(ctimeNs ?? "0"));
        files.push([name, key]);
      }
    }
  };
  await walk("");
  return { kind: "tree", root: context.dir, dirs };
}

/** Whether any entry looked at changed so recently that a change in the same tick could go unseen. */
class RacyWatch {
  private newest = 0n;
  /** Some time seen had a fraction of a second: the filesystem keeps fine times. */
  private fine = false;
  see(mtimeNs: bigint, ctimeNs: bigint): void {
    if (ctimeNs > this.newest) this.newest = ctimeNs;
    if (mtimeNs > this.newest) this.newest = mtimeNs;
    if (mtimeNs % 1_000_000_000n !== 0n || ctimeNs % 1_000_000_000n !== 0n) this.fine = true;
  }
  /** Whether an entry changed at `t` or after, or so close before that a change in the same tick keeps its times. */
  changedSince(t: bigint): boolean {
    // a filesystem of whole seconds (or two: FAT) cannot tell a change within its tick
    return this.newest + (this.fine ? RACY_MARGIN_NS : COARSE_MARGIN_NS) >= t;
  }
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    if (e instanceof SyntaxError) return undefined;
    throw e;
  }
}

/** At most MAX_MEMOS memo files: the least recently written go. */
function boundMemos(dir: string): void {
  const names = namesIn(dir).filter((n) => /^[0-9a-f]{16}\.json$/.test(n));
  if (names.length <= MAX_MEMOS) return;
  const byAge = names.map((n) => ({ n, t: statSync(join(dir, n), { throwIfNoEntry: false })?.mtimeMs ?? 0 })).sort((a, b) => a.t - b.t);
  for (const { n } of byAge.slice(0, names.length - MAX_MEMOS)) rmSync(join(dir, n), { force: true });
}
