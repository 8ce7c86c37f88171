/** The kinds of entry the tar codec reads and writes (everything an OCI layer can hold). */
export type TarEntryType = "file" | "dir" | "symlink" | "hardlink" | "char" | "block" | "fifo";

/** One archive member, independent of how its header was encoded (ustar, PAX, GNU). */
export interface TarEntry {
  /** Relative, no leading "./" or "/", no trailing "/". The archive's own root ("./") reads as "". */
  path: string;
  type: TarEntryType;
  /** Permission bits including setuid/setgid/sticky (& 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  uname?: string;
  gname?: string;
  /** Bytes of content; 0 for everything but "file". */
  size: number;
  /** Seconds since the epoch, may be fractional. */
  mtime: number;
  /** Symlink target (verbatim) or hardlink target (an archive path, normalised like `path`). */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Map<string, Buffer>;
}

export const BLOCK_SIZE = 512;

/** Type flags of the ustar header, by entry type. */
export const TYPE_FLAGS: Record<TarEntryType, string> = {
  file: "0",
  hardlink: "1",
  symlink: "2",
  char: "3",
  block: "4",
  dir: "5",
  fifo: "6",
};

/** Bytes of padding after `size` bytes of content, up to the next 512-byte block. */
export function paddingFor(size: number): number {
  const rest = size % BLOCK_SIZE;
  return rest === 0 ? 0 : BLOCK_SIZE - rest;
}
