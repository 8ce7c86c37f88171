// --progress tty: BuildKit's live screen, redrawn in place (log-update). A header
// `[+] Building 3.2s (5/8)` (FINISHED at the end), one row per FROM and filesystem step in stage and
// step order with its time at the right edge, the last lines of a running step's output under it, the
// cache verdict of each finished step (CACHED, or why it was rebuilt: what only tsbuild says), the
// statuses of a long part of a step under it (`=> => extracting sha256:… 12.35MB / 49.56MB`), and
// the image lines. Every line is cut to the terminal's width: a wrapped line would break the redraw.
import type { BuildEvent, StepInfo } from "../../builder/events.js";
import type { StepStatus } from "../../builder/events.js";
import { progressSize } from "../format.js";
import { stepLabel } from "./label.js";

interface Row {
  step: StepInfo;
  state: "running" | "done" | "cached" | "error";
  started: number;
  /** Seconds, once the step has ended: from its start, so a step that waited never counts back. */
  seconds?: number;
  reason?: string;
  error?: string;
  tail: string[];
  /** The step's statuses by id, as last reported, with when each ended. */
  statuses: Map<string, StepStatus & { ended?: number }>;
}

type Render = ((text: string) => void) & { done(): void };

const TAIL_LINES = 6;

/** A FROM row: BuildKit shows the base as a step; other metadata instructions make no row. */
function isShown(step: StepInfo): boolean {
  return step.filesystem || /^from\s/i.test(step.instruction);
}

/** `left` and `right` on one line of `width` columns: right-aligned, the left part cut to fit. */
export function fitLine(left: string, right: string, width: number): string {
  const room = right === "" ? width : Math.max(0, width - right.length - 1);
  const cut = left.length > room ? left.slice(0, room) : left;
  return right === "" ? cut : `${cut}${" ".repeat(Math.max(1, width - cut.length - right.length))}${right}`;
}

export class TtyProgress {
  private readonly rows = new Map<string, Row>();
  private readonly started = Date.now();
  private readonly imageLines: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private ended: "finished" | "failed" | undefined;

  constructor(
    private readonly render: Render,
    private readonly write: (line: string) => void,
    private readonly columns: () => number,
  ) {}

  handle(e: BuildEvent): void {
    switch (e.type) {
      case "step-start":
        if (!isShown(e.step)) return;
        this.rows.set(e.step.id, { step: e.step, state: "running", started: Date.now(), tail: [], statuses: new Map() });
        this.timer ??= setInterval(() => this.draw(), 100).unref();
        break;
      case "step-output": {
        const row = this.rows.get(e.step.id);
        if (row) row.tail = [...row.tail, ...e.text.replace(/\n$/, "").split("\n")].slice(-TAIL_LINES);
        break;
      }
      case "step-status": {
        const row = this.rows.get(e.step.id);
        if (row) row.statuses.set(e.status.id, { ...e.status, ...(e.status.done ? { ended: Date.now() } : {}) });
        break;
      }
      case "step-done": {
        const row = this.rows.get(e.step.id);
        if (!row) return;
        row.state = e.result.cached ? "cached" : "done";
        row.seconds = (Date.now() - row.started) / 1000;
        if (!e.result.cached && e.result.reason) row.reason = e.result.reason;
        row.tail = [];
        break;
      }
      case "step-error": {
        const row = this.rows.get(e.step.id);
        if (!row) return;
        row.state = "error";
        row.seconds = (Date.now() - row.started) / 1000;
        row.error = e.message;
        break;
      }
      case "warning":
        this.write(`WARNING: ${e.place ? `${e.place.file}:${e.place.line}: ` : ""}${e.message}`);
        return;
      case "image":
        this.imageLines.push(`writing image ${e.id}`, ...e.refs.map((r) => `naming to ${r}`));
        break;
      default:
        return;
    }
    this.draw();
  }

  finish(failed = false): void {
    if (this.timer) clearInterval(this.timer);
    this.ended = failed ? "failed" : "finished";
    this.draw();
    this.render.done();
  }

  /** The screen as it is now (also what tests compare). */
  screen(): string {
    // One column short of the edge: a line that reaches it makes some terminals wrap the cursor.
    const width = Math.max(40, this.columns() - 1);
    const rows = [...this.rows.values()].sort((a, b) => a.step.stageIndex - b.step.stageIndex || a.step.index - b.step.index || a.started - b.started);
    const ended = rows.filter((r) => r.state !== "running").length + (this.imageLines.length > 0 ? 1 : 0);
    const total = rows.length + (this.imageLines.length > 0 ? 1 : 0);
    const elapsed = ((Date.now() - this.started) / 1000).toFixed(1);
    const verdict = this.ended === "finished" ? " FINISHED" : this.ended === "failed" ? " ERROR" : "";
    const lines = [fitLine(`[+] Building ${elapsed}s (${ended}/${total})${verdict}`, "", width)];
    for (const row of rows) {
      const secs = `${(row.seconds ?? (Date.now() - row.started) / 1000).toFixed(1)}s`;
      const mark = row.state === "cached" ? "CACHED " : row.state === "error" ? "ERROR " : "";
      const why = row.reason ? ` (rebuilt: ${row.reason})` : "";
      lines.push(fitLine(` => ${mark}${stepLabel(row.step)}${why}`, secs, width));
      for (const s of row.statuses.values()) {
        const took = `${(((s.ended ?? Date.now()) - s.started) / 1000).toFixed(1)}s`;
        lines.push(fitLine(` => => ${s.id}`, `${progressSize(s.current)} / ${progressSize(s.total)} ${took}`, width));
      }
      for (const t of row.tail) lines.push(fitLine(` => => # ${t}`, "", width));
      if (row.error) lines.push(fitLine(` => => ERROR: ${row.error}`, "", width));
    }
    if (this.imageLines.length > 0) {
      lines.push(fitLine(" => exporting to image", "0.0s", width));
      for (const l of this.imageLines) lines.push(fitLine(` => => ${l}`, "0.0s", width));
    }
    return lines.join("\n");
  }

  private draw(): void {
    this.render(this.screen());
  }
}
