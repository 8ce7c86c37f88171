// Plain progress in BuildKit's `--progress plain` shape: "#N [stage i/n] INSTR", "#N CACHED" or the miss
// reason, output lines prefixed with "#N <seconds>", and "#N DONE 0.1s".
import type { BuildEvent, StepInfo } from "../../builder/events.js";
import { progressSize } from "../format.js";
import { stepLabel } from "./label.js";

export class PlainProgress {
  private readonly numbers = new Map<string, number>();
  private readonly started = new Map<string, number>();
  private next = 1;
  /** The bytes each status last printed, so that a status that did not move prints no line. */
  private readonly shownBytes = new Map<string, number>();

  constructor(private readonly write: (line: string) => void) {}

  handle(e: BuildEvent): void {
    switch (e.type) {
      case "plan":
        return;
      case "step-start": {
        const n = this.number(e.step);
        this.started.set(e.step.id, Date.now());
        this.write(`#${n} ${stepLabel(e.step)}`);
        return;
      }
      case "step-output": {
        const n = this.number(e.step);
        const t = ((Date.now() - (this.started.get(e.step.id) ?? Date.now())) / 1000).toFixed(3);
        for (const line of e.text.replace(/\n$/, "").split("\n")) this.write(`#${n} ${t} ${line}`);
        return;
      }
      case "step-status": {
        // BuildKit's status lines: "#5 extracting sha256:… 12.35MB / 49.56MB 1.0s", the last one "… done"
        const { id, current, total, done, started } = e.status;
        const key = `${e.step.id} ${id}`;
        if (!done && this.shownBytes.get(key) === current) return; // a line only when it moved
        this.shownBytes.set(key, current);
        const t = ((Date.now() - started) / 1000).toFixed(1);
        this.write(`#${this.number(e.step)} ${id} ${progressSize(current)} / ${progressSize(total)} ${t}s${done ? " done" : ""}`);
        return;
      }
      case "step-done": {
        const n = this.number(e.step);
        if (!e.step.filesystem) {
          // a FROM's line is closed as BuildKit closes it; metadata steps print nothing
          if (/^from\s/i.test(e.step.shown.text)) {
            this.write(`#${n} DONE ${(e.result.durationMs / 1000).toFixed(1)}s`);
            this.write("");
          }
          return;
        }
        if (e.result.cached) this.write(`#${n} CACHED`);
        else {
          if (e.result.reason) this.write(`#${n} rebuilt: ${e.result.reason}`);
          this.write(`#${n} DONE ${(e.result.durationMs / 1000).toFixed(1)}s`);
        }
        this.write("");
        return;
      }
      case "step-error":
        this.write(`#${this.number(e.step)} ERROR: ${e.message}`);
        return;
      case "warning":
        this.write(`WARNING: ${e.place ? `${e.place.file}:${e.place.line}: ` : ""}${e.message}`);
        return;
      case "image":
        this.write(`writing image ${e.id}`);
        for (const r of e.refs) this.write(`naming to ${r}`);
        return;
    }
  }

  private number(step: StepInfo): number {
    let n = this.numbers.get(step.id);
    if (n === undefined) {
      n = this.next++;
      this.numbers.set(step.id, n);
    }
    return n;
  }
}
