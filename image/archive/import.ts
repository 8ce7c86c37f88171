// `docker import`: one layer from a root filesystem tar (plain or gzip), with an optional tag and
// config changes, like `docker import --change 'CMD ["sh"]' rootfs.tar app:1.0`.
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ArchiveError, errnoCode } from "../../common/errors.js";
import { MediaType, type ContainerConfig, type ImageConfig } from "../config.js";
import { tagReference, type ContentStore, type ImageRecord } from "../store.js";
import { readTar } from "../tar/index.js";
import { hostPlatform } from "./ociformat.js";
import { compressionOf, isZlibError } from "./stage.js";
import { createGunzip } from "node:zlib";
import { READ_CHUNK } from "../../common/readchunk.js";

export interface ImportOptions {
  /** Config changes in Docker's field names (Cmd, Env, Entrypoint, WorkingDir, User, Labels, …). */
  changes?: ContainerConfig;
  /** The history comment; default `Imported from -`, as Docker writes for a file or stdin. */
  comment?: string;
  /** Creation time; defaults to now. */
  created?: Date;
  /** `--platform`: the platform the files are for (default: this machine's), as `docker import --platform`. */
  platform?: { os: string; architecture: string; variant?: string };
}

/** Splits the first chunk off a stream so its magic bytes can be looked at. */
async function peek(input: NodeJS.ReadableStream): Promise<{ head: Buffer; stream: Readable }> {
  const it = (input as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  const first = await it.next();
  const head = first.done ? Buffer.alloc(0) : Buffer.from(first.value);
  async function* rest(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    for (let r = await it.next(); !r.done; r = await it.next()) yield Buffer.from(r.value);
  }
  return { head, stream: Readable.from(rest()) };
}

export async function importRootfs(
  store: ContentStore,
  input: NodeJS.ReadableStream | string,
  ref?: string,
  options: ImportOptions = {},
): Promise<ImageRecord> {
  if (ref !== undefined) tagReference(ref); // a bad tag fails before any work
  const what = typeof input === "string" ? input : "-";
  let source: NodeJS.ReadableStream;
  if (typeof input === "string") {
    source = createReadStream(input, { highWaterMark: READ_CHUNK });
  } else source = input;
  const { head, stream } = await peek(source).catch((e: unknown) => {
    if (errnoCode(e) === "ENOENT") throw new ArchiveError(`${what}: no such file`);
    throw e;
  });
  if (head.length === 0) throw new ArchiveError(`${what}: empty input, not a tar archive`);
  const compression = compressionOf(head);
  if (compression === "zstd") throw new ArchiveError(`${what}: zstd-compressed input is not supported`);
  // Created only now: an ingest opens its temporary file asynchronously, and an abort() racing that
  // open would leave the file behind.
  const ingest = store.ingest();
  try {
    try {
      if (compression === "gzip") await pipeline(stream, createGunzip({ chunkSize: READ_CHUNK }), ingest);
      else await pipeline(stream, ingest);
    } catch (e) {
      if (isZlibError(e)) throw new ArchiveError(`${what}: corrupt gzip data (${(e as Error).message})`);
      throw e;
    }
    await checkTar(ingest.tempPath, what);
    const layer = await ingest.commit();
    const created = (options.created ?? new Date()).toISOString();
    const comment = options.comment ?? "Imported from -"; // what Docker writes for a file too (its client streams it)
    const config: ImageConfig = {
      ...(options.platform ?? hostPlatform()),
      comment,
      created,
      config: options.changes ?? {},
      rootfs: { type: "layers", diff_ids: [layer.digest] },
      history: [{ created, comment }],
    };
    return await store.putImage(config, [{ mediaType: MediaType.ociLayer, ...layer }], ref === undefined ? [] : [ref]);
  } finally {
    await ingest.abort();
  }
}

/** Reads the whole layer as tar so that garbage is refused before it becomes an image. */
async function checkTar(path: string, what: string): Promise<void> {
  try {
    for await (const member of readTar(createReadStream(path, { highWaterMark: READ_CHUNK }))) member.body.resume();
  } catch (e) {
    if (e instanceof ArchiveError) throw new ArchiveError(`${what}: not a valid tar archive: ${e.message}`, { cause: e });
    throw e;
  }
}
