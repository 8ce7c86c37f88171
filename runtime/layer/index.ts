export { writeLayerTar, writeLayerTarToFile, WHITEOUT_PREFIX, OPAQUE_MARKER, type LayerReuse } from "./write.js";
export { applyLayerTar, applyLayerTarPlain } from "./apply.js";
