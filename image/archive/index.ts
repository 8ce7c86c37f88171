export { loadArchive, type LoadOptions } from "./load.js";
export { saveArchiveToStream, saveDockerArchive, saveOciArchive } from "./save.js";
export { importRootfs, type ImportOptions } from "./import.js";
