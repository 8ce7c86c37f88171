// Milliseconds on a monotonic clock, for step durations. Not `performance.now()`: the `performance`
// global loads perf_hooks (ten modules) on first use, a few ms of a start-up that needs none of it.
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
