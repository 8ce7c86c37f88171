// TSBUILD_TRACE=1 prints how long each phase took to stderr (`trace: <phase> <ms>`): the benchmark's
// numbers are only useful when one can see where the time goes. Off, it costs one env lookup.
const enabled = process.env.TSBUILD_TRACE === "1" || process.env.TSBUILD_TRACE === "2";

// TSBUILD_TRACE=2 also prints when each phase ended (ms since the process started): a timeline.
const timeline = process.env.TSBUILD_TRACE === "2";

function print(name: string, ms: number): void {
  process.stderr.write(`trace: ${name} ${ms.toFixed(1)}ms${timeline ? ` @${performance.now().toFixed(1)}` : ""}\n`);
}

/** Times fn under name when tracing; otherwise just runs it. */
export async function traced<T>(name: string, fn: () => Promise<T>): Promise<T> {
  if (!enabled) return fn();
  const start = performance.now();
  try {
    return await fn();
  } finally {
    print(name, performance.now() - start);
  }
}

/** Prints the time since the process started (Node's own start-up included) under name. */
export function traceMark(name: string): void {
  if (enabled) print(name, performance.now());
}
