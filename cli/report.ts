// The build report for CI (--report FILE): one entry per planned instruction in execution order within
// each stage, with its cache verdict and the reason for every miss, plus totals.
import type { BuildEvent } from "../builder/events.js";
import { orderAdvice, type OrderAdvice } from "../cache/advice.js";

export interface ReportStep {
  stage: string;
  instruction: string;
  line: number;
  cached: boolean;
  reason: string | null;
  key: string | null;
  duration_ms: number;
  layer_digest: string | null;
  layer_size: number | null;
  /** Set on a hit taken from a --cache-from cache: "registry" or "local". */
  source?: "registry" | "local";
  /** Set on a step that reads earlier stages (FROM a stage, COPY --from, RUN --mount from=): their names. */
  uses?: string[];
}

export interface BuildReport {
  version: 1;
  dockerfile: string;
  context: string;
  success: boolean;
  error: string | null;
  image: { id: string; manifest: string; tags: string[] } | null;
  steps: ReportStep[];
  /** Instruction-order hints: a COPY that missed on a file change and made slow RUN steps re-run. */
  advice: OrderAdvice[];
  totals: { steps: number; filesystem_steps: number; hits: number; misses: number; hit_ratio: number; duration_ms: number; time_saved_ms: number };
}

export class ReportCollector {
  private readonly steps: ReportStep[] = [];
  private readonly filesystem: boolean[] = [];
  private savedMs = 0;
  private image: BuildReport["image"] = null;
  private readonly started = Date.now();

  handle(e: BuildEvent): void {
    if (e.type === "step-done") {
      this.steps.push({
        stage: e.step.stage,
        instruction: e.step.instruction,
        line: e.step.place.line,
        cached: e.result.cached,
        reason: e.result.reason ?? null,
        key: e.result.key ?? null,
        duration_ms: Math.round(e.result.durationMs),
        layer_digest: e.result.layerDigest ?? null,
        layer_size: e.result.layerSize ?? null,
        ...(e.result.source !== undefined ? { source: e.result.source } : {}),
        ...(e.step.uses !== undefined ? { uses: e.step.uses } : {}),
      });
      this.filesystem.push(e.step.filesystem);
      if (e.result.cached) this.savedMs += e.result.savedMs ?? 0;
    } else if (e.type === "image") {
      this.image = { id: e.id, manifest: e.manifestDigest, tags: e.refs };
    }
  }

  /** Cache totals over the filesystem steps (metadata steps are always "cached"). */
  totals(): { fs: number; hits: number } {
    let fs = 0;
    let hits = 0;
    this.steps.forEach((s, i) => {
      if (!this.filesystem[i]) return;
      fs++;
      if (s.cached) hits++;
    });
    return { fs, hits };
  }

  advice(): OrderAdvice[] {
    return orderAdvice(this.steps);
  }

  build(dockerfile: string, context: string, error: string | null): BuildReport {
    const { fs, hits } = this.totals();
    return {
      version: 1,
      dockerfile,
      context,
      success: error === null,
      error,
      image: this.image,
      steps: this.steps,
      advice: this.advice(),
      totals: {
        steps: this.steps.length,
        filesystem_steps: fs,
        hits,
        misses: fs - hits,
        hit_ratio: fs === 0 ? 1 : Math.round((hits / fs) * 1000) / 1000,
        duration_ms: Date.now() - this.started,
        time_saved_ms: Math.round(this.savedMs),
      },
    };
  }
}

export function cacheSummaryLine(hits: number, total: number): string {
  const pct = total === 0 ? 100 : Math.round((hits / total) * 100);
  return `cache: ${hits}/${total} steps cached (${pct}%)`;
}
