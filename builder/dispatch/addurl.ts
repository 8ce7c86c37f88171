// ADD whose sources are http(s) URLs (builder/copy/urlsource.ts says how a download is named, dated
// and checked). The step's key holds each URL's content digest: without --checksum the server is asked
// before the cache lookup (conditionally, when an earlier build saw its ETag or Last-Modified); with
// --checksum the key is known at once and a hit sends no request at all. A miss downloads (or reuses
// the download the check just made) into a scratch folder and copies from it as COPY does.
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { sha256 } from "../../common/digest.js";
import { DockerfileError } from "../../common/errors.js";
import { ownedName } from "../../common/owner.js";
import type { FileDigestEntry } from "../../cache/filedigest.js";
import { UrlRecords } from "../../cache/urlrecords.js";
import { resolveChown } from "../../runtime/user.js";
import { copyIntoRootfs } from "../copy/copy.js";
import { fetchUrl, isHttpSource, parseChecksum, urlFileName, type UrlValidators } from "../copy/urlsource.js";
import type { AddInstruction } from "../instructions/index.js";
import { runFilesystemStep, type StepOutcome } from "../fsstep.js";
import type { StepContext } from "./context.js";
import { PlanDepends } from "../planmode.js";
import { copyCreatedBy } from "./history.js";
import { unknownOwnerWarning } from "./ownerwarning.js";

/** Whether this ADD takes URLs (all its sources: tsbuild does not mix URLs and local files in one ADD). */
export function addsFromUrls(instr: AddInstruction): boolean {
  const urls = instr.sources.filter(isHttpSource).length;
  if (urls > 0 && urls < instr.sources.length) {
    throw new DockerfileError(instr.place, "ADD: mixing URLs and local files in one ADD is not supported by tsbuild: give the URLs an ADD of their own");
  }
  return urls > 0;
}

interface Download {
  url: string;
  /** Where its file is (or goes): scratch/<n>/<name>. */
  file: string;
  /** Relative to the scratch folder, as the copy names its source. */
  rel: string;
  validators: UrlValidators | undefined;
  fetched: boolean;
}

export async function dispatchAddUrls(ctx: StepContext, instr: AddInstruction, chmod: number | undefined): Promise<StepOutcome> {
  const { session, state } = ctx;
  const place = { file: instr.place.file, line: instr.place.line };
  const checksum = parseChecksum(instr.checksum, place);
  if (checksum !== undefined && instr.sources.length > 1) throw new DockerfileError(place, "checksum can't be specified for multiple sources");
  // tsbuild plan sends no request: only a pinned URL's key is known without one
  if (session.settings.plan && checksum === undefined) throw new PlanDepends(`the content of ${instr.sources[0]?.slice(0, 200) ?? "the URL"} (pin it with --checksum)`);
  const records = new UrlRecords(session.paths.cache);
  const scratch = join(session.paths.tmp, ownedName("addurl"));
  await mkdir(scratch, { recursive: true });
  try {
    const downloads: Download[] = [];
    for (const [i, url] of instr.sources.entries()) {
      const name = urlFileName(url);
      await mkdir(join(scratch, String(i)));
      const d: Download = { url, file: join(scratch, String(i), name), rel: `${i}/${name}`, validators: undefined, fetched: false };
      if (checksum !== undefined) d.validators = { digest: checksum };
      else {
        const check = await fetchUrl(url, d.file, place, { ...withKnown(await records.get(url)) });
        d.validators = check.validators;
        d.fetched = check.kind === "downloaded";
        if (d.fetched) await records.put(url, check.validators);
      }
      downloads.push(d);
    }
    // The key: each URL with its file name, content digest and Last-Modified (BuildKit's http cache key).
    const files: FileDigestEntry[] = downloads.map((d) => ({ path: d.url, digest: (d.validators as UrlValidators).digest, mode: 0o600, type: "file" }));
    const parts = downloads.map((d) => `${d.url}\0${d.rel}\0${d.validators?.digest ?? ""}\0${d.validators?.lastModified ?? ""}`);
    return await runFilesystemStep(session, state, {
      info: ctx.info,
      record: {
        instruction: instr.kind,
        text: instr.original,
        definition: { from: "url", sources: instr.sources, dest: instr.dest, workdir: state.workdir, chown: instr.chown ?? null, chmod: chmod ?? null, checksum: checksum ?? null },
        buildArgs: {},
        inputs: { digest: sha256(parts.join("\n")), files },
      },
      createdBy: copyCreatedBy(instr),
      work: async (rootfs) => {
        for (const d of downloads) {
          if (d.fetched) continue;
          const got = await fetchUrl(d.url, d.file, place, checksum !== undefined ? { checksum } : {});
          if (got.kind === "downloaded" && checksum === undefined && got.validators.digest !== d.validators?.digest) {
            throw new DockerfileError(place, `ADD ${d.url.slice(0, 200)}: the server's content changed during the build (${d.validators?.digest ?? "?"} became ${got.validators.digest}): build again`);
          }
          if (got.kind === "downloaded" && checksum === undefined) await records.put(d.url, got.validators);
        }
        const chown = instr.chown === undefined ? undefined : await resolveChown(rootfs, instr.chown, unknownOwnerWarning(ctx, instr.place, "--chown"));
        await copyIntoRootfs({
          sourceRoot: scratch,
          fromContext: true, // owned 0:0 unless --chown, as BuildKit's http source writes them
          sources: downloads.map((d) => d.rel),
          destRoot: rootfs,
          dest: instr.dest,
          workdir: state.workdir,
          ...(chown ? { chown } : {}),
          ...(chmod !== undefined ? { chmod } : {}),
          add: false, // a downloaded archive is not extracted
          place,
        });
      },
    });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** The record as fetchUrl's `known`: only when the server gave a validator to ask with. */
function withKnown(record: UrlValidators | undefined): { known?: UrlValidators } {
  return record !== undefined && (record.etag !== undefined || record.lastModified !== undefined) ? { known: record } : {};
}
