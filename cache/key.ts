import { sha256, type Digest } from "../common/digest.js";
import type { FileDigestEntry } from "./filedigest.js";

/** Bumped whenever the meaning of a record changes, so old cache entries stop matching. */
export const KEY_VERSION = 1;

/** The canonical record behind a cache key; kept with the entry so that a miss can be explained. */
export interface StepRecord {
  /** The previous step's key or, for a stage's first step, the base image's chain/config digest. */
  parentKey: Digest;
  /** e.g. "RUN", "COPY". */
  instruction: string;
  /** The instruction as written. */
  text: string;
  /** Whatever the outcome depends on: argv, env (list), workdir, user, shell, network, flags, destination… */
  definition: Record<string, unknown>;
  /** The build args that count for this step. */
  buildArgs: Record<string, string>;
  /** Content digests of the step's inputs (files from the context or another stage). */
  inputs?: { digest: Digest; files: FileDigestEntry[] };
}

/** The cache key: sha256 of canonical JSON of the record, the inputs' aggregate standing for the file list. */
export function stepKey(rec: StepRecord): Digest {
  return sha256(
    canonicalJson({
      v: KEY_VERSION,
      parentKey: rec.parentKey,
      instruction: rec.instruction,
      text: rec.text,
      definition: rec.definition,
      buildArgs: rec.buildArgs,
      inputs: rec.inputs === undefined ? null : rec.inputs.digest,
    }),
  );
}

/**
 * JSON with object keys sorted at every level, so that the order in which a record was built never
 * matters. Array order is kept (argv and env order are meaningful). Undefined members are dropped
 * as JSON.stringify does; values JSON cannot express are refused rather than silently changed.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value, "$"));
}

function sortKeys(value: unknown, where: string): unknown {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: ${where} is not a finite number`);
    return value;
  }
  if (Array.isArray(value)) {
    return value.map((v, i) => (v === undefined ? null : sortKeys(v, `${where}[${i}]`)));
  }
  if (typeof value === "object") {
    if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) {
      throw new TypeError(`canonicalJson: ${where} is not a plain object`);
    }
    const out = Object.create(null) as Record<string, unknown>; // so "__proto__" is just a key
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v, `${where}.${k}`);
    }
    return out;
  }
  throw new TypeError(`canonicalJson: ${where} has unsupported type ${typeof value}`);
}

/**
 * Identifies one Dockerfile step across builds (for "what changed since last time"): the
 * Dockerfile's absolute path, the stage (name or index) and the step's ordinal within the stage.
 */
export function stepIdentity(dockerfilePath: string, stage: string | number, ordinal: number): string {
  return sha256(JSON.stringify([dockerfilePath, stage, ordinal]));
}
