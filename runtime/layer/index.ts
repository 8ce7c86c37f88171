export { writeLayerTar, writeLayerTarToFile, WHITEOUT_PREFIX, OPAQUE_MARKER } from "./write.js";
export { applyLayerTar } from "./apply.js";
