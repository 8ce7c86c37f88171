// Docker's image reference grammar and normalisation (github.com/distribution/reference):
// `app` → `docker.io/library/app:latest`, `localhost:5000/x` keeps its domain.
import { ImageReferenceError } from "../common/errors.js";

export const DEFAULT_DOMAIN = "docker.io";
const LEGACY_DEFAULT_DOMAIN = "index.docker.io";
const OFFICIAL_REPO_PREFIX = "library/";
export const DEFAULT_TAG = "latest";
const NAME_TOTAL_LENGTH_MAX = 255;

export interface ImageRef {
  domain: string;
  /** Repository path inside the domain, e.g. `library/app`. */
  path: string;
  tag?: string;
  digest?: string;
  /** `domain/path`, e.g. `docker.io/library/app`. */
  name: string;
  /** Fully normalized: `docker.io/library/app:1.0`; the tag defaults to latest unless a digest is given. */
  full: string;
  /** The short way Docker prints it: `app:1.0`, `localhost:5000/x:latest`. */
  familiar: string;
}

// The grammar, as in distribution/reference/regexp.go.
const alnum = "[a-z0-9]+";
const separator = "(?:[._]|__|[-]+)";
const pathComponent = `${alnum}(?:${separator}${alnum})*`;
const domainComponent = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const ipv6 = "\\[(?:[a-fA-F0-9:]+)\\]";
const domainName = `${domainComponent}(?:\\.${domainComponent})*`;
const host = `(?:${domainName}|${ipv6})`;
const domainAndPort = `${host}(?::[0-9]+)?`;
const tagPat = "[\\w][\\w.-]{0,127}";
const digestPat = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
const namePat = `(?:${domainAndPort}/)?${pathComponent}(?:/${pathComponent})*`;
const REFERENCE_RE = new RegExp(`^(${namePat})(?::(${tagPat}))?(?:@(${digestPat}))?$`);
const ANCHORED_ID_RE = /^[a-f0-9]{64}$/;
const TAG_RE = new RegExp(`^${tagPat}$`);

function invalid(s: string, detail: string): ImageReferenceError {
  return new ImageReferenceError(s, `"${s}" is not a valid repository/tag: ${detail}`);
}

/** Splits off the domain the way Docker does: the first component is a domain only if it looks like one. */
function splitDockerDomain(name: string): { domain: string; remainder: string } {
  const i = name.indexOf("/");
  let domain: string;
  let remainder: string;
  const first = i === -1 ? "" : name.slice(0, i);
  // Docker 26's rule: an uppercase first component without "." or ":" is not a domain (`UPPER/x`
  // is a bad repository name, not a registry), unlike newer distribution/reference releases.
  if (i === -1 || (!/[.:]/.test(first) && first !== "localhost")) {
    domain = DEFAULT_DOMAIN;
    remainder = name;
  } else {
    domain = first;
    remainder = name.slice(i + 1);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !remainder.includes("/")) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return { domain, remainder };
}

/** Parses and normalizes a reference as `docker tag`/`docker pull` do. Throws ImageReferenceError. */
export function parseReference(s: string): ImageRef {
  if (ANCHORED_ID_RE.test(s)) {
    throw new ImageReferenceError(s, `invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  }
  const m = REFERENCE_RE.exec(s);
  if (!m) {
    // As distribution/reference: a string that only fails for its uppercase letters gets its own message.
    if (s !== "" && REFERENCE_RE.test(s.toLowerCase())) {
      throw invalid(s, "invalid reference format: repository name must be lowercase");
    }
    throw invalid(s, "invalid reference format");
  }
  const [, rawName = "", tag, digest] = m;
  if (rawName.length > NAME_TOTAL_LENGTH_MAX) {
    throw invalid(s, `repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`);
  }
  const split = splitDockerDomain(rawName);
  if (split.remainder.toLowerCase() !== split.remainder) {
    throw invalid(s, "invalid reference format: repository name must be lowercase");
  }
  return makeRef(split.domain, split.remainder, tag, digest);
}

function makeRef(domain: string, path: string, tag: string | undefined, digest: string | undefined): ImageRef {
  const name = `${domain}/${path}`;
  const effectiveTag = tag ?? (digest ? undefined : DEFAULT_TAG);
  const suffix = (effectiveTag ? `:${effectiveTag}` : "") + (digest ? `@${digest}` : "");
  return {
    domain,
    path,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
    name,
    full: name + suffix,
    familiar: familiarName(domain, path) + suffix,
  };
}

/** `docker.io/library/app` → `app`, `docker.io/me/app` → `me/app`; other domains stay. */
export function familiarName(domain: string, path: string): string {
  if (domain !== DEFAULT_DOMAIN) return `${domain}/${path}`;
  if (path.startsWith(OFFICIAL_REPO_PREFIX) && !path.slice(OFFICIAL_REPO_PREFIX.length).includes("/")) {
    return path.slice(OFFICIAL_REPO_PREFIX.length);
  }
  return path;
}

/** The familiar form of any full reference string (`docker.io/library/app:1.0` → `app:1.0`). */
export function familiarString(ref: string): string {
  return parseReference(ref).familiar;
}

/** Normalizes to the full form, e.g. for the index's ref.name annotation. */
export function normalizeReference(s: string): string {
  return parseReference(s).full;
}

/** True when s is a valid tag on its own (as in an OCI layout's short ref.name `latest`). */
export function isValidTag(s: string): boolean {
  return TAG_RE.test(s);
}

/** Parses without throwing; undefined when s is not a reference. */
export function tryParseReference(s: string): ImageRef | undefined {
  try {
    return parseReference(s);
  } catch (e) {
    if (e instanceof ImageReferenceError) return undefined;
    throw e;
  }
}

const ID_PREFIX_MIN = 12;

/**
 * An image id is the config digest. The CLI accepts `sha256:<hex>`, a full 64-hex id, or a prefix of
 * at least 12 hex digits (with or without `sha256:`). Returns the lowercase hex prefix, or undefined.
 */
export function idPrefix(s: string): string | undefined {
  const hex = s.startsWith("sha256:") ? s.slice("sha256:".length) : s;
  if (!/^[a-f0-9]+$/.test(hex) || hex.length > 64) return undefined;
  if (hex.length < ID_PREFIX_MIN && !s.startsWith("sha256:")) return undefined;
  return hex;
}

/** True when s names an image by id (full or a 12+ hex prefix), the way Docker prints short ids. */
export function isShortId(s: string): boolean {
  return idPrefix(s) !== undefined;
}

/** Docker's short id: the first 12 hex digits of the config digest. */
export function shortId(configDigest: string): string {
  return configDigest.replace(/^sha256:/, "").slice(0, ID_PREFIX_MIN);
}
