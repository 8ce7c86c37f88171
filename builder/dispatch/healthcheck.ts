import type { HealthConfig as ImageHealth } from "../../image/config.js";
import type { HealthcheckInstruction } from "../instructions/index.js";
import type { StepContext } from "./context.js";
import { healthcheckCreatedBy } from "./history.js";

/** HEALTHCHECK: the container's health probe; zero durations are left out as Docker does. */
export function dispatchHealthcheck(ctx: StepContext, instr: HealthcheckInstruction): void {
  const h = instr.health;
  const out: ImageHealth = { Test: [...h.test] };
  if (h.interval) out.Interval = h.interval;
  if (h.timeout) out.Timeout = h.timeout;
  if (h.startPeriod) out.StartPeriod = h.startPeriod;
  if (h.startInterval) out.StartInterval = h.startInterval;
  if (h.retries) out.Retries = h.retries;
  ctx.state.containerConfig.Healthcheck = out;
  ctx.state.addHistory(healthcheckCreatedBy(h), true);
}
