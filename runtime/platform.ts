// Which platforms this machine can run a RUN step for: its own, and those a binfmt_misc handler with
// the F flag (the interpreter opened at registration, so it works inside a container's root) serves,
// as Debian's qemu-user-static registers them. A build for a platform the host cannot run fails before
// any step with what to install, never with a silently wrong image.
import { readFileSync } from "node:fs";
import { UserError } from "../common/errors.js";
import { hostPlatform } from "../image/registry/platform.js";

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** OCI architecture → the name qemu-user-static registers its handler under. */
const QEMU_NAME: Record<string, string> = { amd64: "x86_64", arm64: "aarch64", arm: "arm", "386": "i386", ppc64le: "ppc64le", s390x: "s390x", riscv64: "riscv64", mips64le: "mips64el" };

export { hostPlatform };

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, ...(p.variant ? [p.variant] : [])].join("/");
}

/** The binfmt_misc handler for the architecture, when one is registered, enabled and fixed (F). */
function binfmtHandler(architecture: string, dir: string): "ok" | "missing" | "not-fixed" {
  const name = QEMU_NAME[architecture];
  if (name === undefined) return "missing";
  let text: string;
  try {
    text = readFileSync(`${dir}/qemu-${name}`, "utf8");
  } catch {
    return "missing"; // no such handler (or binfmt_misc is not mounted)
  }
  if (!/^enabled$/m.test(text)) return "missing";
  return /^flags: .*F/m.test(text) ? "ok" : "not-fixed";
}

/** Throws a one-line UserError when RUN steps for `p` cannot run on this machine. */
export function assertRunnable(p: Platform, binfmtDir = "/proc/sys/fs/binfmt_misc"): void {
  const host = hostPlatform();
  if (p.os !== "linux") throw new UserError(`platform ${formatPlatform(p)}: tsbuild runs linux containers only`);
  if (p.architecture === host.architecture) return;
  const handler = binfmtHandler(p.architecture, binfmtDir);
  if (handler === "ok") return;
  const qemu = QEMU_NAME[p.architecture] ?? p.architecture;
  throw new UserError(handler === "not-fixed"
    ? `platform ${formatPlatform(p)}: the binfmt_misc handler qemu-${qemu} lacks the F flag, so it cannot run inside a container: re-register it with update-binfmts (Debian's qemu-user-static does)`
    : `platform ${formatPlatform(p)} cannot run on this ${formatPlatform(host)} machine: no binfmt_misc handler for ${qemu}; install Debian's qemu-user-static and binfmt-support (mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc if it is not mounted)`);
}

/** BuildKit's automatic platform args for a build targeting `target` on `build`. */
export function platformArgs(target: Platform, build: Platform): Record<string, string> {
  return {
    TARGETPLATFORM: formatPlatform(target), TARGETOS: target.os, TARGETARCH: target.architecture, TARGETVARIANT: target.variant ?? "",
    BUILDPLATFORM: formatPlatform(build), BUILDOS: build.os, BUILDARCH: build.architecture, BUILDVARIANT: build.variant ?? "",
  };
}
