export { loadArchive, type LoadOptions } from "./load.js";
export { saveDockerArchive, saveOciArchive } from "./save.js";
export { importRootfs, type ImportOptions } from "./import.js";
