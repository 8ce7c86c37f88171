// `tsbuild plan`: what a build would do, step by step, before it runs (builder/planmode.ts decides).
// A table for people (the filesystem steps: cached, will rebuild and why, or depends on what, with the
// time each took when last built) or, with --format json, the build report's step shape with the
// decision and estimate added, for CI.
import type { BuildEvent } from "../builder/events.js";
import { tabwrite } from "./listformat.js";

export interface PlanStep {
  stage: string;
  instruction: string;
  line: number;
  cached: boolean;
  reason: string | null;
  /** cached | rebuild | depends; metadata instructions are "cached" (they make no layer). */
  planned: "cached" | "rebuild" | "depends";
  /** How long the step took when last built (ms); null when unknown. */
  estimated_ms: number | null;
  filesystem: boolean;
}

export class PlanCollector {
  readonly steps: PlanStep[] = [];

  handle(e: BuildEvent): void {
    if (e.type !== "step-done") return;
    this.steps.push({
      stage: e.step.stage,
      instruction: e.step.instruction,
      line: e.step.place.line,
      cached: e.result.cached,
      reason: e.result.reason ?? null,
      planned: e.result.planned ?? "cached",
      estimated_ms: e.result.estimatedMs !== undefined ? Math.round(e.result.estimatedMs) : null,
      filesystem: e.step.filesystem,
    });
  }

  totals(): { steps: number; cached: number; rebuild: number; depends: number; estimatedMs: number } {
    const fs = this.steps.filter((s) => s.filesystem);
    return {
      steps: fs.length,
      cached: fs.filter((s) => s.planned === "cached").length,
      rebuild: fs.filter((s) => s.planned === "rebuild").length,
      depends: fs.filter((s) => s.planned === "depends").length,
      estimatedMs: fs.reduce((n, s) => n + (s.planned === "rebuild" ? (s.estimated_ms ?? 0) : 0), 0),
    };
  }

  json(): string {
    return `${JSON.stringify({ steps: this.steps.map(({ filesystem: _f, ...rest }) => rest), totals: this.totals() }, null, 2)}\n`;
  }

  table(): string {
    const seconds = (ms: number | null): string => (ms === null ? "" : `~${(ms / 1000).toFixed(1)}s`);
    const rows = this.steps.filter((s) => s.filesystem).map((s) => {
      const decision = s.planned === "cached" ? "cached"
        : s.planned === "depends" ? `depends: ${s.reason ?? ""}`
          : s.reason?.startsWith("parent step rebuilt") ? "will rebuild (parent)" : `will rebuild: ${s.reason ?? ""}`;
      const instruction = s.instruction.replaceAll("\n", " ").replaceAll("\t", " ");
      return [s.stage, String(s.line), instruction.length > 50 ? `${instruction.slice(0, 49)}…` : instruction, decision, s.planned === "rebuild" ? seconds(s.estimated_ms) : ""].join("\t");
    });
    const t = this.totals();
    const summary = `plan: ${t.cached} of ${t.steps} steps cached, ${t.rebuild} will rebuild${t.estimatedMs > 0 ? ` (~${(t.estimatedMs / 1000).toFixed(1)}s as last built)` : ""}${t.depends > 0 ? `, ${t.depends} depend on what only the build can tell` : ""}`;
    return `${tabwrite(["STAGE\tLINE\tINSTRUCTION\tPLAN\tTIME", ...rows].join("\n"))}\n${summary}\n`;
  }
}
