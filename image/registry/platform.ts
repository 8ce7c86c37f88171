// Choosing one image out of an OCI index / Docker manifest list: linux/amd64 unless `--platform`
// says otherwise, with containerd's variant rules (arm64 means arm64/v8; arm without variant means v7).
import { UserError } from "../../common/errors.js";
import type { Descriptor, ImageIndex, Platform } from "../config.js";

export interface PlatformSpec {
  os: string;
  architecture: string;
  variant?: string;
}

export const DEFAULT_PLATFORM: PlatformSpec = { os: "linux", architecture: "amd64" };

/** Node's process.arch in OCI's words. */
const OCI_ARCH: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64" };

/** This machine's platform (what an image index is read for unless `--platform` says otherwise). */
export function hostPlatform(): PlatformSpec {
  return { os: "linux", architecture: OCI_ARCH[process.arch] ?? process.arch };
}

/** `os/arch[/variant]` as `--platform` takes it (`linux/arm64/v8`, `linux/amd64`). */
export function parsePlatform(s: string): PlatformSpec {
  const parts = s.trim().toLowerCase().split("/");
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/.test(p))) {
    throw new UserError(`invalid platform "${s}": expected os/arch[/variant], e.g. linux/amd64`);
  }
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

export function formatPlatform(p: PlatformSpec | Platform): string {
  return [p.os, p.architecture, ...(p.variant ? [p.variant] : [])].join("/");
}

/** The variant a platform means when it names none (containerd's platforms.Normalize). */
function effectiveVariant(p: PlatformSpec | Platform): string | undefined {
  if (p.variant) return p.variant;
  if (p.architecture === "arm64") return "v8";
  if (p.architecture === "arm") return "v7";
  return undefined;
}

export function platformMatches(want: PlatformSpec, have: Platform | undefined): boolean {
  if (!have) return false;
  if (have.os !== want.os || have.architecture !== want.architecture) return false;
  // without a variant asked for, amd64 (or any arch without a default) takes any variant entry
  if (want.variant === undefined && effectiveVariant(want) === undefined) return true;
  return effectiveVariant(have) === effectiveVariant(want);
}

/** Entries that are images for a platform (not attestations, whose platform is unknown/unknown). */
export function platformEntries(index: ImageIndex): Descriptor[] {
  return index.manifests.filter((d) => d.platform !== undefined && d.platform.os !== "unknown" && d.platform.architecture !== "unknown");
}

/** The entry for this machine's platform, else the first platform's, else the first entry (an index lists one row). */
export function defaultEntry(index: ImageIndex): Descriptor | undefined {
  const entries = platformEntries(index);
  return entries.find((d) => platformMatches(hostPlatform(), d.platform)) ?? entries[0] ?? index.manifests[0];
}

/**
 * The entry for `want`; for amd64 without a variant asked for, an entry without a variant (v1) is
 * preferred to v2/v3 ones. Throws a UserError naming `what` and listing the platforms there are.
 */
export function selectPlatform(index: ImageIndex, want: PlatformSpec, what: string): Descriptor {
  const candidates = platformEntries(index).filter((d) => platformMatches(want, d.platform));
  const best = candidates.find((d) => !d.platform?.variant) ?? candidates[0];
  if (best) return best;
  const available = [...new Set(platformEntries(index).map((d) => formatPlatform(d.platform as Platform)))];
  throw new UserError(
    `${what}: no matching manifest for ${formatPlatform(want)} in the manifest list entries` +
      ` (available: ${available.length > 0 ? available.join(", ") : "none"})`,
  );
}
