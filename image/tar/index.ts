export type { TarEntry, TarEntryType } from "./types.js";
export { TarWriter } from "./writer.js";
export { readTar, normaliseArchivePath, type ReadOptions, type TarMember } from "./reader.js";
