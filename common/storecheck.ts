// `tsbuild system check`: what each room reports about the part of the store it owns. A problem is one
// line; when it can be repaired safely (the removal of something nothing needs, or of something broken
// that a later pull, load or build makes again), it carries the repair, which says what it did.

export interface StoreProblem {
  /** One line: `<what>: <problem>`, the what a path under the store or a digest. */
  line: string;
  /** Makes it right; returns what it did (`removed`, `unmounted`…). Absent: nothing safe to do. */
  repair?: () => Promise<string>;
}

/** What a room looked at, for the summary line (`412 blobs`). */
export interface CheckCounts {
  [what: string]: number;
}

export interface CheckResult {
  problems: StoreProblem[];
  counts: CheckCounts;
}
