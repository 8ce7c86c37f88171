// The build report as a graph: stages with their steps in order, the edges between steps (the step
// before in the stage; the last step of a stage another one is FROM, copies from or mounts), and the
// chains of misses: each starts at a rebuilt step none of whose inputs was rebuilt (the first changed
// input) and follows the edges through every step it forced, up to the last one.
import type { BuildReport, ReportStep } from "../report.js";

export type StepState = "cached" | "rebuilt" | "metadata";

export interface GraphStep {
  /** Position in the report's steps: the node's id in the page. */
  index: number;
  step: ReportStep;
  state: StepState;
  /** In a chain of misses: a rebuilt step, or a metadata step (FROM, ENV…) a chain passes through. */
  inChain: boolean;
  /** The first step of a chain: rebuilt while nothing it reads was. */
  root: boolean;
}

export interface GraphStage {
  name: string;
  steps: GraphStep[];
  /** Names of the earlier stages it reads. */
  uses: string[];
}

export interface GraphEdge {
  from: number;
  to: number;
  /** Across stages (FROM a stage, COPY --from, RUN --mount from=) rather than the next step in a stage. */
  crossStage: boolean;
  /** Both ends are in a chain of misses. */
  inChain: boolean;
}

export interface MissChain {
  /** The step where it starts and the steps it forced, in report order. */
  root: number;
  forced: number[];
  /** The forced steps nothing else in the chain follows: where it ended. */
  last: number[];
  /** Cached steps that read a step of the chain: their inputs came out the same, so the chain stopped there. */
  stopped: number[];
}

export interface BuildGraph {
  stages: GraphStage[];
  steps: GraphStep[];
  edges: GraphEdge[];
  chains: MissChain[];
}

const FILESYSTEM = /^(?:ONBUILD\s+)?(RUN|COPY|ADD|WORKDIR)\b/i;

export function isFilesystemStep(instruction: string): boolean {
  return FILESYSTEM.test(instruction);
}

/**
 * The stages a step reads: the report's `uses`, or for a report written before it had them, the
 * FROM and --from words of the instruction that name a stage of the report.
 */
function stagesRead(step: ReportStep, names: Set<string>): string[] {
  if (step.uses !== undefined) return step.uses.filter((n) => names.has(n));
  const words = step.instruction.split(/\s+/);
  const refs = /^FROM$/i.test(words[0] ?? "")
    ? [words.slice(1).find((w) => !w.startsWith("--")) ?? ""]
    : words.flatMap((w) => [...w.matchAll(/(?:^--from=|[,=]from=)([^,\s]+)/gi)].map((m) => m[1]!));
  return refs.map((r) => r.toLowerCase()).filter((r) => names.has(r));
}

export function buildGraph(report: BuildReport): BuildGraph {
  const steps: GraphStep[] = report.steps.map((step, index) => ({
    index,
    step,
    state: !isFilesystemStep(step.instruction) ? "metadata" : step.cached ? "cached" : "rebuilt",
    inChain: false,
    root: false,
  }));
  // Stages in Dockerfile order (their FROM lines), each one's steps in the order they ran. A stage
  // whose FROM comes again (a build of several platforms runs the stages once per platform) starts a
  // second group, `name (2)`, and what reads the stage from then on reads that one.
  const byName = new Map<string, GraphStep[]>();
  const current = new Map<string, string>();
  const readsOf: string[][] = [];
  const known = new Set(report.steps.map((s) => s.stage));
  for (const s of steps) {
    let group = current.get(s.step.stage) ?? s.step.stage;
    if (/^FROM\b/i.test(s.step.instruction) && byName.has(group)) {
      let n = 2;
      while (byName.has(`${s.step.stage} (${n})`)) n++;
      group = `${s.step.stage} (${n})`;
    }
    current.set(s.step.stage, group);
    readsOf[s.index] = stagesRead(s.step, known).map((name) => current.get(name) ?? name);
    byName.set(group, [...(byName.get(group) ?? []), s]);
  }
  const firstLine = (list: GraphStep[]): number => Math.min(...list.map((s) => s.step.line));
  const stages: GraphStage[] = [...byName.entries()]
    .sort((a, b) => firstLine(a[1]) - firstLine(b[1]))
    .map(([name, list]) => ({ name, steps: list, uses: [...new Set(list.flatMap((s) => readsOf[s.index]!))].filter((n) => n !== name && byName.has(n)) }));

  const edges: GraphEdge[] = [];
  const inputs = new Map<number, number[]>();
  const addEdge = (from: number, to: number, crossStage: boolean): void => {
    edges.push({ from, to, crossStage, inChain: false });
    inputs.set(to, [...(inputs.get(to) ?? []), from]);
  };
  for (const stage of stages) {
    stage.steps.forEach((s, i) => {
      if (i > 0) addEdge(stage.steps[i - 1]!.index, s.index, false);
      for (const used of readsOf[s.index]!) {
        const last = byName.get(used)?.at(-1);
        if (last !== undefined && used !== stage.name) addEdge(last.index, s.index, true);
      }
    });
  }

  // Every edge goes from an earlier stage or an earlier step of the same stage, so walking the stages
  // in order and each stage's steps in order visits a step's inputs before the step.
  const chainOf = new Map<number, Set<number>>(); // step -> the roots whose chain reaches it
  for (const stage of stages) {
    for (const s of stage.steps) {
      const reached = new Set<number>();
      for (const from of inputs.get(s.index) ?? []) for (const r of chainOf.get(from) ?? []) reached.add(r);
      if (s.state === "cached") continue; // a hit ends every chain that reaches it
      if (s.state === "rebuilt" && reached.size === 0) {
        s.root = true;
        reached.add(s.index);
      }
      if (reached.size === 0) continue;
      s.inChain = true;
      chainOf.set(s.index, reached);
    }
  }
  for (const e of edges) e.inChain = steps[e.from]!.inChain && steps[e.to]!.inChain;

  const chains: MissChain[] = steps.filter((s) => s.root).map((root) => {
    const members = steps.filter((s) => s.index !== root.index && chainOf.get(s.index)?.has(root.index) === true);
    const rebuilt = members.filter((s) => s.state === "rebuilt").map((s) => s.index);
    const inChain = new Set([root.index, ...members.map((s) => s.index)]);
    const last = rebuilt.filter((i) => !edges.some((e) => e.from === i && inChain.has(e.to) && followsRebuilt(e.to, steps, edges, inChain)));
    const stopped = steps.filter((s) => s.state === "cached" && edges.some((e) => e.to === s.index && inChain.has(e.from))).map((s) => s.index);
    return { root: root.index, forced: rebuilt, last, stopped };
  });
  return { stages, steps, edges, chains };
}

/** Whether a chain goes on from this step to a rebuilt one (through metadata steps it passes). */
function followsRebuilt(index: number, steps: GraphStep[], edges: GraphEdge[], inChain: Set<number>): boolean {
  if (steps[index]!.state === "rebuilt") return true;
  return edges.some((e) => e.from === index && inChain.has(e.to) && followsRebuilt(e.to, steps, edges, inChain));
}
