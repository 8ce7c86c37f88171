// --progress tty: a live list of steps redrawn in place (log-update), the last lines of a running
// step's output under it, and the cache verdict of each finished step.
import type { BuildEvent, StepInfo } from "../../builder/events.js";
import { stepLabel } from "./label.js";

interface Row {
  step: StepInfo;
  state: "running" | "done" | "cached" | "error";
  started: number;
  detail: string;
  tail: string[];
}

type Render = ((text: string) => void) & { done(): void };

export class TtyProgress {
  private readonly rows = new Map<string, Row>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly render: Render, private readonly write: (line: string) => void) {}

  handle(e: BuildEvent): void {
    switch (e.type) {
      case "step-start":
        this.rows.set(e.step.id, { step: e.step, state: "running", started: Date.now(), detail: "", tail: [] });
        this.timer ??= setInterval(() => this.draw(), 100).unref();
        break;
      case "step-output": {
        const row = this.rows.get(e.step.id);
        if (row) row.tail = [...row.tail, ...e.text.replace(/\n$/, "").split("\n")].slice(-6);
        break;
      }
      case "step-done": {
        const row = this.rows.get(e.step.id);
        if (row) {
          row.state = e.result.cached ? "cached" : "done";
          row.detail = e.result.cached ? "CACHED" : `${(e.result.durationMs / 1000).toFixed(1)}s${e.result.reason ? ` (${e.result.reason})` : ""}`;
          row.tail = [];
        }
        break;
      }
      case "step-error": {
        const row = this.rows.get(e.step.id);
        if (row) {
          row.state = "error";
          row.detail = `ERROR: ${e.message}`;
        }
        break;
      }
      case "warning":
        this.write(`WARNING: ${e.message}`);
        break;
      default:
        break;
    }
    this.draw();
  }

  finish(): void {
    if (this.timer) clearInterval(this.timer);
    this.draw();
    this.render.done();
  }

  private draw(): void {
    const lines: string[] = [];
    for (const row of this.rows.values()) {
      const secs = ((Date.now() - row.started) / 1000).toFixed(1);
      const mark = row.state === "running" ? `${secs}s` : row.detail;
      lines.push(` => ${stepLabel(row.step)}  ${mark}`);
      for (const t of row.tail) lines.push(`    ${t}`);
    }
    this.render(lines.join("\n"));
  }
}
