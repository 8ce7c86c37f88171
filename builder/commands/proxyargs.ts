// BuildKit's predefined build args: the proxy settings. Given with --build-arg, they reach every RUN's
// environment without an ARG, and stay out of its history line and its cache key (a proxy is how the
// machine reaches the network, not what the image is). Declared with ARG, they are ordinary args.
export const PROXY_ARGS: ReadonlySet<string> = new Set([
  "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
]);

/** `K=V` for each proxy build arg given and not already set by the stage's env or args. */
export function proxyEnv(buildArgs: Record<string, string>, env: string[]): string[] {
  const set = new Set(env.map((kv) => kv.split("=", 1)[0]));
  return Object.entries(buildArgs).filter(([k]) => PROXY_ARGS.has(k) && !set.has(k)).map(([k, v]) => `${k}=${v}`);
}
