// The shared build cache's wire format: an OCI image manifest (an artifact) whose config blob lists
// the cache records and whose layers are the records' layer blobs. Everything read from outside is
// checked field by field before it is used; a record's key must be the hash of its own StepRecord.
import { isDigest, sha256, type Digest } from "../../common/digest.js";
import { UserError } from "../../common/errors.js";
import { MediaType } from "../../image/config.js";
import { chainIdOf } from "../../runtime/snapshotter.js";
import { stepKey, type StepRecord } from "../key.js";

export const CACHE_CONFIG_MEDIA_TYPE = "application/vnd.tsbuild.cache.config.v1+json";
export const CACHE_FORMAT_VERSION = 1;
/** Layer media types a cache may list: uncompressed (folders) or gzip (registries). */
export const CACHE_LAYER_TYPES: readonly string[] = [MediaType.ociLayer, MediaType.ociLayerGzip];
/** Larger config blobs are refused rather than read into memory. */
export const MAX_CONFIG_BYTES = 64 * 1024 * 1024;

export interface CacheLayer {
  digest: Digest;
  size: number;
  mediaType: string;
}

/** One cached filesystem step. */
export interface CacheRecordV1 {
  key: Digest;
  /** The key of the step before it (or the base's key); equals record.parentKey. */
  parentKey: Digest;
  /** The snapshot chain this step sits on (null: on nothing, FROM scratch). */
  parentChainId: Digest | null;
  chainId: Digest;
  diffId: Digest;
  /** The layer blob as the cache holds it (digest = diffId when uncompressed). */
  layer: CacheLayer;
  durationMs: number;
  createdAt: number;
  record: StepRecord;
}

export interface CacheConfigV1 {
  version: 1;
  records: CacheRecordV1[];
}

export interface CacheManifest {
  schemaVersion: 2;
  mediaType: string;
  artifactType: string;
  config: CacheLayer;
  layers: CacheLayer[];
}

export function cacheManifest(config: CacheLayer, layers: CacheLayer[]): CacheManifest {
  return { schemaVersion: 2, mediaType: MediaType.ociManifest, artifactType: CACHE_CONFIG_MEDIA_TYPE, config, layers };
}

/** A cache that is corrupt or not ours: never used. */
export class ForeignCacheError extends UserError {
  constructor(readonly where: string, detail: string) {
    super(`cache ${where}: not a tsbuild cache (${detail})`);
  }
}

type Obj = Record<string, unknown>;
type Fail = (detail: string) => never;

function failer(where: string): Fail {
  return (detail) => {
    throw new ForeignCacheError(where, detail);
  };
}

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function parseJson(bytes: Buffer, what: string, fail: Fail): unknown {
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch (e) {
    if (e instanceof SyntaxError) fail(`${what} is not JSON`);
    throw e;
  }
}

function digestField(o: Obj, field: string, at: string, fail: Fail): Digest {
  const v = o[field];
  if (typeof v !== "string" || !isDigest(v)) fail(`${at}.${field} is not a sha256 digest`);
  return v;
}

function descriptor(v: unknown, at: string, fail: Fail): CacheLayer {
  if (!isObj(v)) fail(`${at} is not a descriptor`);
  const digest = digestField(v, "digest", at, fail);
  if (typeof v.size !== "number" || !Number.isSafeInteger(v.size) || v.size < 0) fail(`${at}.size is not a size`);
  if (typeof v.mediaType !== "string") fail(`${at}.mediaType is missing`);
  return { digest, size: v.size, mediaType: v.mediaType };
}

/** Checks a manifest fetched from a cache; throws ForeignCacheError. */
export function parseCacheManifest(bytes: Buffer, where: string): CacheManifest {
  const fail: Fail = failer(where);
  const v = parseJson(bytes, "manifest", fail);
  if (!isObj(v)) return fail("manifest is not a JSON object");
  if (v.schemaVersion !== 2) fail("manifest schemaVersion is not 2");
  if (v.mediaType !== undefined && v.mediaType !== MediaType.ociManifest) fail(`manifest media type ${String(v.mediaType)}`);
  const config = descriptor(v.config, "config", fail);
  if (config.mediaType !== CACHE_CONFIG_MEDIA_TYPE) fail(`config media type ${config.mediaType}`);
  if (config.size > MAX_CONFIG_BYTES) fail(`config of ${config.size} bytes`);
  if (!Array.isArray(v.layers)) fail("manifest has no layers list");
  const layers = (v.layers as unknown[]).map((l, i) => descriptor(l, `layers[${i}]`, fail));
  for (const l of layers) if (!CACHE_LAYER_TYPES.includes(l.mediaType)) fail(`layer media type ${l.mediaType}`);
  return cacheManifest(config, layers);
}

function isStepRecord(v: unknown): v is StepRecord {
  if (!isObj(v)) return false;
  const okInputs =
    v.inputs === undefined ||
    (isObj(v.inputs) && typeof v.inputs.digest === "string" && isDigest(v.inputs.digest) && Array.isArray(v.inputs.files));
  return (
    typeof v.parentKey === "string" && isDigest(v.parentKey) &&
    typeof v.instruction === "string" && typeof v.text === "string" &&
    isObj(v.definition) && isObj(v.buildArgs) &&
    Object.values(v.buildArgs).every((a) => typeof a === "string") &&
    okInputs
  );
}

function parseRecord(v: unknown, at: string, layers: Map<Digest, CacheLayer>, fail: Fail): CacheRecordV1 {
  if (!isObj(v)) return fail(`${at} is not an object`);
  const key = digestField(v, "key", at, fail);
  const parentKey = digestField(v, "parentKey", at, fail);
  const chainId = digestField(v, "chainId", at, fail);
  const diffId = digestField(v, "diffId", at, fail);
  const parentChainId = v.parentChainId === null ? null : digestField(v, "parentChainId", at, fail);
  const layer = descriptor(v.layer, `${at}.layer`, fail);
  const listed = layers.get(layer.digest);
  if (listed === undefined || listed.size !== layer.size || listed.mediaType !== layer.mediaType) {
    fail(`${at}.layer is not one of the manifest's layers`);
  }
  if (layer.mediaType === MediaType.ociLayer && layer.digest !== diffId) fail(`${at}: uncompressed layer digest is not its diffId`);
  for (const f of ["durationMs", "createdAt"] as const) {
    if (typeof v[f] !== "number" || !Number.isFinite(v[f]) || (v[f] as number) < 0) fail(`${at}.${f} is not a number`);
  }
  if (!isStepRecord(v.record)) return fail(`${at}.record is not a step record`);
  // the key is the record's hash and the chain id follows from the parent chain: nothing is taken on faith
  try {
    if (stepKey(v.record) !== key) fail(`${at}.key does not match its record`);
  } catch (e) {
    if (e instanceof TypeError) fail(`${at}.record: ${e.message}`);
    throw e;
  }
  if (v.record.parentKey !== parentKey) fail(`${at}.parentKey does not match its record`);
  if (chainIdOf(parentChainId, diffId) !== chainId) fail(`${at}.chainId does not follow from parentChainId and diffId`);
  return {
    key, parentKey, parentChainId, chainId, diffId, layer,
    durationMs: v.durationMs as number, createdAt: v.createdAt as number, record: v.record,
  };
}

/** Checks a config blob (already digest-verified) against its manifest; throws ForeignCacheError. */
export function parseCacheConfig(bytes: Buffer, manifest: CacheManifest, where: string): CacheConfigV1 {
  const fail: Fail = failer(where);
  if (sha256(bytes) !== manifest.config.digest) fail("config blob does not match its digest");
  const v = parseJson(bytes, "config", fail);
  if (!isObj(v)) return fail("config is not a JSON object");
  if (v.version !== CACHE_FORMAT_VERSION) fail(`config version ${String(v.version)}`);
  if (!Array.isArray(v.records)) fail("config has no records list");
  const layers = new Map(manifest.layers.map((l) => [l.digest, l]));
  const records = (v.records as unknown[]).map((r, i) => parseRecord(r, `records[${i}]`, layers, fail));
  return { version: 1, records };
}
