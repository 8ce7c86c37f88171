// @napi-rs/xattr, loaded on first use: it is a native addon behind a CommonJS shim (about 10 ms of
// start-up), and a no-op rebuild never reads or writes an extended attribute.
type Xattr = typeof import("@napi-rs/xattr");

let loading: Promise<Xattr> | undefined;
const xattr = (): Promise<Xattr> => (loading ??= import("@napi-rs/xattr"));

/** The attribute's value, or null when the file has none of that name. */
export async function getAttribute(path: string, name: string): Promise<Buffer | null> {
  return (await xattr()).getAttribute(path, name);
}

export async function listAttributes(path: string): Promise<string[]> {
  return (await xattr()).listAttributes(path);
}

export async function setAttribute(path: string, name: string, value: Buffer | string): Promise<void> {
  return (await xattr()).setAttribute(path, name, value);
}

/** The module itself, for its synchronous calls (tight loops over many small files). */
export function xattrModule(): Promise<Xattr> {
  return xattr();
}
