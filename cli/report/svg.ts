// The stage graph as inline SVG: stage boxes, step nodes filled by their cache state (the fill is an
// attribute, so the colour is in the document itself, not only in a style sheet), edges, and the
// chains of misses drawn over them in red.
import { humanSize } from "../format.js";
import type { BuildGraph, GraphStep, StepState } from "./graph.js";
import { edgeRoute, type Box, type Layout } from "./layout.js";

export const STATE_FILL: Readonly<Record<StepState, string>> = { cached: "#d4efd9", rebuilt: "#f8d3d1", metadata: "#eceff3" };
export const STATE_STROKE: Readonly<Record<StepState, string>> = { cached: "#3b8a4e", rebuilt: "#c0392b", metadata: "#9aa6b2" };
export const CHAIN_COLOUR = "#a3111a";
const EDGE_COLOUR = "#7d8b99";

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

export function shortText(text: string, max: number): string {
  const one = text.replace(/\s+/g, " ").trim();
  return one.length <= max ? one : `${one.slice(0, max - 1)}…`;
}

export function durationText(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** Cached, or why the step was rebuilt. */
export function stepVerdict(s: GraphStep): string {
  if (s.state === "rebuilt") return `rebuilt: ${s.step.reason ?? "no reason recorded"}`;
  return s.state === "cached" ? `cached${s.step.source ? ` (${s.step.source} cache)` : ""}` : "metadata";
}

/** Its time and its layer's size. */
export function stepCost(s: GraphStep): string {
  return [durationText(s.step.duration_ms), ...(s.step.layer_size !== null ? [humanSize(s.step.layer_size)] : [])].join(" · ");
}

/** A vertical arrow to the next step of a stage; between stages, smooth curves through the route's points. */
function edgePath(layout: Layout, from: number, to: number, crossStage: boolean): string {
  if (!crossStage) {
    const [a, b] = [layout.nodes.get(from)!, layout.nodes.get(to)!];
    const x = a.x + a.width / 2;
    return `M${x},${a.y + a.height} L${x},${b.y}`;
  }
  const points = edgeRoute(layout, from, to);
  const parts = [`M${points[0]![0]},${points[0]![1]}`];
  for (let i = 1; i < points.length; i++) {
    const [[x1, y1], [x2, y2]] = [points[i - 1]!, points[i]!];
    if (y1 === y2) parts.push(`L${x2},${y2}`);
    else {
      const bend = Math.max(20, (x2 - x1) / 2);
      parts.push(`C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`);
    }
  }
  return parts.join(" ");
}

function node(s: GraphStep, box: Box): string {
  const classes = ["node", s.state, ...(s.inChain ? ["chain"] : []), ...(s.root ? ["root"] : [])].join(" ");
  const stroke = s.inChain ? CHAIN_COLOUR : STATE_STROKE[s.state];
  const width = s.inChain && s.state !== "metadata" ? 3 : 1.2;
  const dash = s.inChain && s.state === "metadata" ? ` stroke-dasharray="5 3"` : "";
  const cost = stepCost(s);
  const tip = `${s.step.stage}, line ${s.step.line}: ${s.step.instruction}\n${stepVerdict(s)} · ${cost}`;
  const badge = s.root
    ? `<rect x="${box.x + box.width - 92}" y="${box.y - 8}" width="88" height="16" rx="8" fill="${CHAIN_COLOUR}"/>` +
      `<text class="badge" x="${box.x + box.width - 48}" y="${box.y + 4}" text-anchor="middle">first change</text>`
    : "";
  return `<g id="step-${s.index}" class="${classes}" data-stage="${escapeXml(s.step.stage)}" data-line="${s.step.line}" data-state="${s.state}">` +
    `<title>${escapeXml(tip)}</title>` +
    `<rect x="${box.x}" y="${box.y}" width="${box.width}" height="${box.height}" rx="5" fill="${STATE_FILL[s.state]}" stroke="${stroke}" stroke-width="${width}"${dash}/>` +
    `<text class="instr" x="${box.x + 8}" y="${box.y + 17}"><tspan class="line">${s.step.line}</tspan> ${escapeXml(shortText(s.step.instruction, 39))}</text>` +
    `<text class="status" x="${box.x + 8}" y="${box.y + 34}">${escapeXml(shortText(stepVerdict(s), 54 - cost.length))}</text>` +
    `<text class="status cost" x="${box.x + box.width - 8}" y="${box.y + 34}" text-anchor="end">${escapeXml(cost)}</text>` +
    badge + `</g>`;
}

export function renderSvg(graph: BuildGraph, layout: Layout): string {
  const out: string[] = [];
  out.push(`<svg id="graph" width="${layout.width}" height="${layout.height}" viewBox="0 0 ${layout.width} ${layout.height}" role="img" aria-label="stage graph">`);
  out.push(`<defs>` +
    `<marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="${EDGE_COLOUR}"/></marker>` +
    `<marker id="arrow-chain" viewBox="0 0 8 8" refX="7" refY="4" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="${CHAIN_COLOUR}"/></marker>` +
    `</defs>`);
  for (const stage of graph.stages) {
    const box = layout.stages.get(stage.name)!;
    const uses = stage.uses.length > 0 ? ` (reads ${stage.uses.join(", ")})` : "";
    out.push(`<g id="stage-${escapeXml(stage.name)}" class="stage"><rect x="${box.x}" y="${box.y}" width="${box.width}" height="${box.height}" rx="8" fill="#f7f9fb" stroke="#b7c3cd"/>` +
      `<text class="stage-name" x="${box.x + 12}" y="${box.y + 20}">${escapeXml(shortText(`${stage.name}${uses}`, 44))}</text></g>`);
  }
  // plain edges first, the chain's over them
  const edges = [...graph.edges].sort((a, b) => Number(a.inChain) - Number(b.inChain));
  for (const e of edges) {
    const colour = e.inChain ? CHAIN_COLOUR : EDGE_COLOUR;
    const cls = ["edge", e.crossStage ? "cross" : "next", ...(e.inChain ? ["chain"] : [])].join(" ");
    out.push(`<path id="edge-${e.from}-${e.to}" class="${cls}" d="${edgePath(layout, e.from, e.to, e.crossStage)}" fill="none" ` +
      `stroke="${colour}" stroke-width="${e.inChain ? 2.6 : 1.4}" marker-end="url(#${e.inChain ? "arrow-chain" : "arrow"})"/>`);
  }
  for (const s of graph.steps) out.push(node(s, layout.nodes.get(s.index)!));
  out.push(`</svg>`);
  return out.join("\n");
}
