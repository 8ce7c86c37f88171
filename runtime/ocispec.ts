// The OCI runtime spec (config.json) for one RUN step, shaped like the one BuildKit gives runc under
// dockerd 26: Docker's default capabilities, masked and read-only /proc paths, /dev as tmpfs, /sys
// read-only, and /etc/hosts + /etc/resolv.conf bind-mounted read-only from files in the bundle.
// No rlimits are set unless --ulimit asks: like BuildKit's, the process inherits tsbuild's (observed:
// dockerd's limits). --add-host, --shm-size and RUN --security=insecure adjust it (SandboxOptions).

import { readFileSync } from "node:fs";

export interface ProcessUser {
  uid: number;
  gid: number;
  additionalGids: number[];
}

export interface SpecInput {
  rootfs: string;
  args: string[];
  env: string[];
  cwd: string;
  user: ProcessUser;
  network: "host" | "none";
  hostname: string;
  hostsFile: string;
  resolvConfFile: string;
  /** RUN --mount mounts, applied after the default ones. */
  mounts?: OciMount[];
  sandbox?: SandboxOptions;
  /** `run -t`: runc gives the process a pseudo-terminal (and sends its master over --console-socket). */
  terminal?: boolean;
}

/** What `build --add-host/--shm-size/--ulimit` and `RUN --security=insecure` change in the sandbox. */
export interface SandboxOptions {
  /** Extra /etc/hosts lines (`--add-host host:ip`). */
  extraHosts?: Array<{ host: string; ip: string }>;
  /** Size of /dev/shm in bytes (default 64 MiB). */
  shmSize?: number;
  /** Process limits (`--ulimit nofile=1024:2048`): RLIMIT_<NAME>. */
  rlimits?: Array<{ type: string; soft: number; hard: number }>;
  /** RUN --security=insecure (allowed by --allow security.insecure): every capability, nothing masked, all devices. */
  privileged?: boolean;
}

/** Every capability Linux 6 defines, by number (CAP_CHOWN is 0). */
const ALL_CAPABILITIES = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
  "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
  "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
  "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
  "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
];

export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

/**
 * What a privileged (insecure) RUN gets, as Docker's --privileged: every capability tsbuild itself may
 * pass on (its bounding set, from /proc/self/status), since runc cannot grant one outside it.
 */
function privilegedCapabilities(): string[] {
  const line = readFileSync("/proc/self/status", "utf8").split("\n").find((l) => l.startsWith("CapBnd:"));
  const mask = BigInt(`0x${line?.split(/\s+/)[1] ?? "0"}`);
  return ALL_CAPABILITIES.filter((_, bit) => ((mask >> BigInt(bit)) & 1n) === 1n);
}

export const DEFAULT_CAPABILITIES = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

const MASKED_PATHS = [
  "/proc/asound",
  "/proc/acpi",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/sys/firmware",
  "/sys/devices/virtual/powercap",
];

const READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/** Where the generated files are mounted; these must never end up in a layer. */
export const GENERATED_FILE_MOUNTS = ["/etc/resolv.conf", "/etc/hosts"];

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

export function defaultMounts(hostsFile: string, resolvConfFile: string, shmSize = DEFAULT_SHM_SIZE): OciMount[] {
  return [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    {
      destination: "/dev/pts",
      type: "devpts",
      source: "devpts",
      options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
    },
    { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", `size=${Math.ceil(shmSize / 1024)}k`] },
    { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
    { destination: "/etc/resolv.conf", type: "bind", source: resolvConfFile, options: ["rbind", "ro", "nosuid", "nodev", "noexec"] },
    { destination: "/etc/hosts", type: "bind", source: hostsFile, options: ["rbind", "ro", "nosuid", "nodev", "noexec"] },
  ];
}

export function buildSpec(s: SpecInput): Record<string, unknown> {
  const sandbox = s.sandbox ?? {};
  const privileged = sandbox.privileged === true;
  const caps = privileged ? privilegedCapabilities() : DEFAULT_CAPABILITIES;
  const namespaces = [{ type: "pid" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }];
  if (s.network === "none") namespaces.push({ type: "network" });
  return {
    ociVersion: "1.0.2",
    process: {
      terminal: s.terminal === true,
      // BuildKit lists the primary gid among the additional ones (observed: `id` shows groups=<gid>).
      user: {
        uid: s.user.uid,
        gid: s.user.gid,
        additionalGids: [s.user.gid, ...s.user.additionalGids.filter((g) => g !== s.user.gid)],
      },
      args: s.args,
      env: s.env,
      cwd: s.cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      ...(sandbox.rlimits && sandbox.rlimits.length > 0 ? { rlimits: sandbox.rlimits } : {}),
      noNewPrivileges: false,
    },
    root: { path: s.rootfs, readonly: false },
    hostname: s.hostname,
    // a RUN --mount at a default mount's place (a tmpfs at /dev/shm) replaces it, as in BuildKit
    mounts: [...defaultMounts(s.hostsFile, s.resolvConfFile, sandbox.shmSize).filter((d) => !(s.mounts ?? []).some((m) => m.destination === d.destination)), ...(s.mounts ?? [])],
    linux: {
      namespaces,
      resources: { devices: [{ allow: privileged, access: "rwm" }] },
      maskedPaths: privileged ? [] : MASKED_PATHS,
      readonlyPaths: privileged ? [] : READONLY_PATHS,
    },
  };
}

/** /etc/hosts as BuildKit writes it: the sandbox hostname on the loopback line. */
export function hostsFileContent(hostname: string, extraHosts: SandboxOptions["extraHosts"] = []): string {
  return `127.0.0.1\tlocalhost ${hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n${extraHosts.map((h) => `${h.ip}\t${h.host}\n`).join("")}`;
}

const DEFAULT_RESOLV_CONF = "nameserver 8.8.8.8\nnameserver 8.8.4.4\n";

/**
 * The container's resolv.conf: the host's (BuildKit passes it through even with network none, as
 * observed), without loopback nameservers that would not answer inside the sandbox; Google's if
 * nothing is left.
 */
export function resolvConfContent(host: string | undefined): string {
  if (host === undefined) return DEFAULT_RESOLV_CONF;
  const lines = host.split("\n").filter((l) => !/^\s*nameserver\s+(127\.|::1\b)/.test(l));
  const hasNameserver = lines.some((l) => /^\s*nameserver\s/.test(l));
  if (!hasNameserver) return DEFAULT_RESOLV_CONF + lines.filter((l) => l.trim() !== "").map((l) => l + "\n").join("");
  return lines.join("\n").replace(/\n*$/, "\n");
}
