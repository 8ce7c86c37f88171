// Where the report's graph goes on the page: a layered layout computed here, no layout library (the
// graph is a handful of stages whose edges all point to later stages, so longest-path layering is
// the whole job). A stage is a column of step nodes; a stage that reads others sits one column right
// of the rightmost of them; stages of one column stack downwards in Dockerfile order.
import type { BuildGraph } from "./graph.js";

export const NODE = { width: 320, height: 44, gap: 10 };
const STAGE = { pad: 12, title: 26, gap: 28 };
const COLUMN_GAP = 70;
const MARGIN = 16;

export interface Box { x: number; y: number; width: number; height: number }

export interface Layout {
  width: number;
  height: number;
  stages: Map<string, Box>;
  /** By step index. */
  nodes: Map<number, Box>;
  /** The column of each step's stage, by step index. */
  column: Map<number, number>;
  /** The lowest edge of each column's stages. */
  bottoms: number[];
}

/**
 * Where an edge between stages goes: straight from the source's right side to the target's left, or,
 * when columns lie between them, under those columns' stages (so it crosses none of their boxes).
 */
export function edgeRoute(layout: Layout, from: number, to: number): Array<[number, number]> {
  const a = layout.nodes.get(from)!;
  const b = layout.nodes.get(to)!;
  const start: [number, number] = [a.x + a.width, a.y + a.height / 2];
  const end: [number, number] = [b.x - 2, b.y + b.height / 2];
  const between = layout.bottoms.slice(layout.column.get(from)! + 1, layout.column.get(to)!);
  if (between.length === 0) return [start, end];
  const under = Math.max(...between) - STAGE.gap + 12;
  const left = a.x + a.width + STAGE.pad + COLUMN_GAP / 2;
  const right = b.x - STAGE.pad - COLUMN_GAP / 2;
  return [start, [left, under], [right, under], end];
}

export function layoutGraph(graph: BuildGraph): Layout {
  const column = new Map<string, number>();
  for (const stage of graph.stages) {
    column.set(stage.name, Math.max(0, ...stage.uses.map((u) => (column.get(u) ?? -1) + 1)));
  }
  const stages = new Map<string, Box>();
  const nodes = new Map<number, Box>();
  const columnWidth = NODE.width + 2 * STAGE.pad;
  const bottoms: number[] = [];
  const nodeColumn = new Map<number, number>();
  for (const stage of graph.stages) {
    const col = column.get(stage.name)!;
    const x = MARGIN + col * (columnWidth + COLUMN_GAP);
    const y = bottoms[col] ?? MARGIN;
    const height = STAGE.title + stage.steps.length * (NODE.height + NODE.gap) - NODE.gap + 2 * STAGE.pad;
    stages.set(stage.name, { x, y, width: columnWidth, height });
    stage.steps.forEach((s, i) => {
      nodeColumn.set(s.index, col);
      nodes.set(s.index, { x: x + STAGE.pad, y: y + STAGE.title + STAGE.pad + i * (NODE.height + NODE.gap), width: NODE.width, height: NODE.height });
    });
    bottoms[col] = y + height + STAGE.gap;
  }
  const columns = Math.max(1, ...[...column.values()].map((c) => c + 1));
  const routed = graph.edges.some((e) => e.crossStage && nodeColumn.get(e.to)! - nodeColumn.get(e.from)! > 1);
  return {
    width: 2 * MARGIN + columns * columnWidth + (columns - 1) * COLUMN_GAP,
    height: Math.max(2 * MARGIN, Math.max(...bottoms) - STAGE.gap + MARGIN + (routed ? 16 : 0)),
    stages,
    nodes,
    column: nodeColumn,
    bottoms: Array.from({ length: columns }, (_, c) => bottoms[c] ?? MARGIN),
  };
}
