// How progress names a step: BuildKit's label, made where the step is (builder/events.ts).
export { stepLabel } from "../../builder/events.js";
