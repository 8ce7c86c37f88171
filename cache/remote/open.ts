// From a parsed --cache-to/--cache-from value to the transport that reaches it.
import type { RegistryOptions } from "../../image/registry/api.js";
import { openRepository } from "../../image/registry/client.js";
import { LocalCacheTransport } from "./local.js";
import { RegistryCacheTransport } from "./registry.js";
import type { CacheSpec } from "./spec.js";
import type { CacheTransport } from "./transport.js";

export async function openCacheTransport(spec: CacheSpec, options: RegistryOptions = {}): Promise<CacheTransport> {
  if (spec.type === "local") return new LocalCacheTransport(spec.dir, spec.tag);
  const repo = openRepository({ domain: spec.ref.domain, path: spec.ref.path }, options);
  return new RegistryCacheTransport(repo, spec.ref.digest ?? spec.ref.tag ?? "latest", spec.ref.familiar);
}
