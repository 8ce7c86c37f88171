export { parseInstruction } from "./parse.js";
export { parseStages } from "./stages.js";
export type { Stage, Stages } from "./stages.js";
export { expandInstruction } from "./expand.js";
export type { Expanded } from "./expand.js";
export { parseGoDuration } from "./duration.js";
export type * from "./types.js";
