// `tsbuild manifest inspect NAME`: the manifest or index as the registry has it (Docker's layout);
// `--verbose` adds one entry per platform with its descriptor and manifest.
import type { RegistryOptions } from "../../image/registry/api.js";
import { familiarName, parseReference } from "../../image/reference.js";

export interface ManifestInspectFlags {
  verbose?: boolean;
}

export async function runManifestInspect(name: string, flags: ManifestInspectFlags, registry: RegistryOptions): Promise<void> {
  const { connectTo, inspectManifest } = await import("../../image/registry/manifest.js");
  const ref = parseReference(name);
  const client = await connectTo(ref, registry, undefined);
  const text = await inspectManifest(client, ref.digest ?? ref.tag ?? "latest", familiarName(ref.domain, ref.path), flags.verbose === true);
  process.stdout.write(`${text}\n`);
}
