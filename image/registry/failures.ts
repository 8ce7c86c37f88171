// What a failed registry exchange means to the user, as one line; and which failures are worth a retry.
import { errnoCode } from "../../common/errors.js";
import type { NetResponse } from "../../common/netresponse.js";
import { RegistryError } from "./api.js";

/** A failure worth retrying (5xx, a broken connection); `final` is what the user sees when retries run out. */
export class TransientError extends Error {
  constructor(readonly final: RegistryError) {
    super(final.message);
    this.name = "TransientError";
  }
}

export function isTransientStatus(status: number): boolean {
  return status >= 500 && status <= 599;
}

interface FailureContext {
  method: string;
  target: string;
  kind: "manifest" | "blob" | "upload" | "registry";
}

interface ErrorBody {
  errors?: { code?: unknown; message?: unknown; detail?: unknown }[];
}

/** The registry's own words (`MANIFEST_UNKNOWN: manifest unknown`), when the body carries them. */
async function registrySays(res: NetResponse): Promise<{ code?: string; text: string }> {
  if (!res.hasBody) return { text: "" };
  let raw: string;
  try {
    raw = (await res.text()).slice(0, 4096);
  } catch (e) {
    if (e instanceof TypeError) return { text: "" }; // the connection broke while reading an error body
    throw e;
  }
  try {
    const parsed = JSON.parse(raw) as ErrorBody;
    const first = parsed.errors?.[0];
    if (first && typeof first.code === "string") {
      const msg = typeof first.message === "string" ? first.message : "";
      return { code: first.code, text: msg ? `${first.code}: ${msg}` : first.code };
    }
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e; // not JSON: show a little of it
  }
  return { text: raw.replace(/\s+/g, " ").trim().slice(0, 200) };
}

export async function describeFailure(
  res: NetResponse,
  ctx: FailureContext,
  host: string,
  hadCredentials: boolean,
): Promise<RegistryError> {
  const { code, text } = await registrySays(res);
  const says = text ? ` (${text})` : "";
  const status = res.status;
  if (status === 401) {
    return hadCredentials
      ? new RegistryError(`authentication failed for ${host}`, status, `wrong credentials, or no access to ${ctx.target}${says}`)
      : new RegistryError(`authentication required for ${host}`, status, `${ctx.target}: run \`tsbuild login ${host}\`${says}`);
  }
  if (status === 403) return new RegistryError(`access denied to ${ctx.target}`, status, `${host} answered 403 Forbidden${says}`);
  if (status === 404) {
    if (code === "NAME_UNKNOWN") return new RegistryError("repository unknown", status, ctx.target);
    if (ctx.kind === "registry") return new RegistryError("not a registry", status, `${host} has no /v2/ API`);
    const what = ctx.kind === "manifest" ? "manifest unknown" : ctx.kind === "blob" ? "blob unknown" : "upload unknown";
    return new RegistryError(what, status, ctx.target);
  }
  if (status === 429) {
    return new RegistryError(`too many requests to ${host}`, status, `${ctx.target}: rate limited (429), try again later`);
  }
  if (isTransientStatus(status)) {
    return new RegistryError(`${host} failed`, status, `${ctx.method} ${ctx.target}: ${status} ${res.statusText}${says}`);
  }
  return new RegistryError(`${host} refused ${ctx.method} ${ctx.target}`, status, `${status} ${res.statusText}${says}`);
}

const UNREACHABLE = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

/** The errno-ish code of a fetch failure: undici puts the socket error in `cause`. */
function causeCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let depth = 0; depth < 4 && cur !== undefined; depth++) {
    const code = errnoCode(cur);
    if (code) return code;
    cur = typeof cur === "object" && cur !== null && "cause" in cur ? (cur as { cause: unknown }).cause : undefined;
  }
  return undefined;
}

function causeMessage(e: unknown): string {
  const cause = typeof e === "object" && e !== null && "cause" in e ? (e as { cause: unknown }).cause : undefined;
  return cause instanceof Error ? cause.message : e instanceof Error ? e.message : String(e);
}

/**
 * A fetch that threw: unreachable hosts and TLS problems are final RegistryErrors; a reset or closed
 * connection is a TransientError. Anything else (an abort, a bug) is rethrown as it is.
 */
export function networkFailure(e: unknown, host: string, target: string): Error {
  if (!(e instanceof TypeError)) return e instanceof Error ? e : new Error(String(e));
  const code = causeCode(e);
  if (code && UNREACHABLE.has(code)) {
    const why = code === "ECONNREFUSED" ? "connection refused" : code === "ENOTFOUND" ? "unknown host" : code;
    return new RegistryError(`cannot reach ${host}`, undefined, why);
  }
  if (code && /CERT|SSL|TLS|VERIFY|HOSTNAME/.test(code)) {
    return new RegistryError(`cannot reach ${host}`, undefined,
      `TLS failed: ${causeMessage(e)} (${code}); trust the registry's certificate authority with NODE_EXTRA_CA_CERTS, or list a plain-HTTP registry with --insecure-registry`);
  }
  return new TransientError(new RegistryError(`connection to ${host} broken`, undefined, `${target}: ${code ?? causeMessage(e)}`));
}
