// BuildKit's predefined build args: the proxy settings. Given with --build-arg (in any case:
// http_proxy, HTTP_PROXY, Http_Proxy), they reach every RUN's environment without an ARG, under both
// the upper- and the lower-case name (BuildKit's ProxyEnv), and stay out of its history line and its
// cache key (a proxy is how the machine reaches the network, not what the image is).
const PROXIES = ["http_proxy", "https_proxy", "ftp_proxy", "no_proxy", "all_proxy"];

/** Whether a build arg is one of them (never reported as unused). */
export function isProxyArg(name: string): boolean {
  return PROXIES.includes(name.toLowerCase());
}

/** `NAME=V` and `name=V` for each proxy build arg given, where the stage's env does not set that name. */
export function proxyEnv(buildArgs: Record<string, string>, env: string[]): string[] {
  const set = new Set(env.map((kv) => kv.split("=", 1)[0]));
  const out: string[] = [];
  for (const proxy of PROXIES) {
    const given = Object.keys(buildArgs).find((k) => k.toLowerCase() === proxy);
    if (given === undefined) continue;
    for (const name of [proxy.toUpperCase(), proxy]) if (!set.has(name)) out.push(`${name}=${buildArgs[given] as string}`);
  }
  return out;
}
