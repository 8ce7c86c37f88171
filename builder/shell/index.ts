export { processWord, processWords, processWithOptions, envFrom, WordExpansionError } from "./lex.js";
export type { EnvLookup, LexOptions, ProcessResult } from "./lex.js";
export { goQuote, isSpace, trimSpace } from "./chars.js";
