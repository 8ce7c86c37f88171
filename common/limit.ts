/**
 * Runs at most `n` async jobs at once; the rest wait their turn in order. File-tree work (copy, digest,
 * layer writing) is bound by the latency of one syscall at a time, not by the disk: keeping a few dozen
 * operations in flight is what makes a 20,000-file tree fast.
 */
export type Limiter = <T>(job: () => Promise<T>) => Promise<T>;

const NOOP = (): void => {};

export function createLimiter(n: number): Limiter {
  let active = 0;
  // A queue read from `head` on: Array.shift() copies the array, and a 20,000-file copy queues thousands.
  let waiting: Array<() => void> = [];
  let head = 0;
  const release = (): void => {
    active--;
    const next = waiting[head];
    if (next === undefined) return;
    waiting[head++] = NOOP;
    if (head === waiting.length) {
      waiting = [];
      head = 0;
    } else if (head >= 1024 && head * 2 >= waiting.length) {
      waiting = waiting.slice(head);
      head = 0;
    }
    next();
  };
  return async <T>(job: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await job();
    } finally {
      release();
    }
  };
}

/** Like Promise.all, but waits for every job to settle before rethrowing the first failure, so no
 * job is still writing when the caller cleans up (unmounts, removes folders). */
export async function settleAll<T>(jobs: Array<Promise<T>>): Promise<T[]> {
  const results = await Promise.allSettled(jobs);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}
