// --progress json: one JSON object per event and line, for machines.
import type { BuildEvent } from "../../builder/events.js";

export class JsonProgress {
  constructor(private readonly write: (line: string) => void) {}

  handle(e: BuildEvent): void {
    const { type } = e;
    const step = "step" in e ? { id: e.step.id, stage: e.step.stage, instruction: e.step.instruction, line: e.step.place.line } : undefined;
    const rest: Record<string, unknown> = { ...e };
    delete rest.type;
    delete rest.step;
    this.write(JSON.stringify({ type, time: new Date().toISOString(), ...(step ? { step } : {}), ...rest }));
  }
}
