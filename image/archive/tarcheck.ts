// A layer's tar structure, checked at load: a truncated or corrupt layer fails the load, naming the
// archive, the layer and the image, instead of the first build or run that unpacks it.
import { createReadStream } from "node:fs";
import { ArchiveError } from "../../common/errors.js";
import { readTar } from "../tar/reader.js";
import { READ_CHUNK } from "../../common/readchunk.js";

/** Reads a layer tar through to its end-of-archive marker (bodies are skipped unread). */
export async function checkLayerTar(path: string, what: string): Promise<void> {
  try {
    for await (const member of readTar(createReadStream(path, { highWaterMark: READ_CHUNK }))) void member;
  } catch (e) {
    if (e instanceof ArchiveError) throw new ArchiveError(`${what}: ${e.message}`);
    throw e;
  }
}
