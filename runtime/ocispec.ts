// The OCI runtime spec (config.json) for one RUN step, shaped like the one BuildKit gives runc under
// dockerd 26: Docker's default capabilities, masked and read-only /proc paths, /dev as tmpfs, /sys
// read-only, and /etc/hosts + /etc/resolv.conf bind-mounted read-only from files in the bundle.
// No rlimits are set: like BuildKit's, the process inherits tsbuild's (observed: dockerd's limits).

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

export function defaultMounts(hostsFile: string, resolvConfFile: string): OciMount[] {
  return [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    {
      destination: "/dev/pts",
      type: "devpts",
      source: "devpts",
      options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
    },
    { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
    { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
    { destination: "/etc/resolv.conf", type: "bind", source: resolvConfFile, options: ["rbind", "ro", "nosuid", "nodev", "noexec"] },
    { destination: "/etc/hosts", type: "bind", source: hostsFile, options: ["rbind", "ro", "nosuid", "nodev", "noexec"] },
  ];
}

export function buildSpec(s: SpecInput): Record<string, unknown> {
  const namespaces = [{ type: "pid" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }];
  if (s.network === "none") namespaces.push({ type: "network" });
  return {
    ociVersion: "1.0.2",
    process: {
      terminal: false,
      // BuildKit lists the primary gid among the additional ones (observed: `id` shows groups=<gid>).
      user: {
        uid: s.user.uid,
        gid: s.user.gid,
        additionalGids: [s.user.gid, ...s.user.additionalGids.filter((g) => g !== s.user.gid)],
      },
      args: s.args,
      env: s.env,
      cwd: s.cwd,
      capabilities: {
        bounding: DEFAULT_CAPABILITIES,
        effective: DEFAULT_CAPABILITIES,
        permitted: DEFAULT_CAPABILITIES,
      },
      noNewPrivileges: false,
    },
    root: { path: s.rootfs, readonly: false },
    hostname: s.hostname,
    mounts: [...defaultMounts(s.hostsFile, s.resolvConfFile), ...(s.mounts ?? [])],
    linux: {
      namespaces,
      resources: { devices: [{ allow: false, access: "rwm" }] },
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
    },
  };
}

/** /etc/hosts as BuildKit writes it: the sandbox hostname on the loopback line. */
export function hostsFileContent(hostname: string): string {
  return `127.0.0.1\tlocalhost ${hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n`;
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
