// The build report as one self-contained HTML page (`build --report-html FILE`, `tsbuild report
// build.json -o FILE`): a summary, the stage graph (inline SVG), the chains of misses, the order
// advice and every step in a table. Nothing is fetched: the style is inline, there is no script, and
// the page holds no time of its own, so the same report always gives the same bytes.
import { humanSize } from "../format.js";
import type { BuildReport } from "../report.js";
import { buildGraph, type BuildGraph, type GraphStep } from "./graph.js";
import { layoutGraph } from "./layout.js";
import { CHAIN_COLOUR, STATE_FILL, STATE_STROKE, durationText, escapeXml as esc, renderSvg, shortText } from "./svg.js";

const STYLE = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2933; margin: 24px; background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
.summary { color: #52606d; margin: 0; } .failed { color: ${STATE_STROKE.rebuilt}; font-weight: 600; }
.totals { display: flex; gap: 22px; flex-wrap: wrap; margin: 14px 0 0; padding: 0; list-style: none; }
.totals li b { display: block; font-size: 18px; }
.legend { display: flex; gap: 16px; font-size: 12px; margin-bottom: 8px; align-items: center; }
.legend span::before { content: ""; display: inline-block; width: 14px; height: 10px; margin-right: 5px; border: 1.5px solid; vertical-align: -1px; }
.legend .cached::before { background: ${STATE_FILL.cached}; border-color: ${STATE_STROKE.cached}; }
.legend .rebuilt::before { background: ${STATE_FILL.rebuilt}; border-color: ${STATE_STROKE.rebuilt}; }
.legend .metadata::before { background: ${STATE_FILL.metadata}; border-color: ${STATE_STROKE.metadata}; }
.legend .chain::before { background: ${STATE_FILL.rebuilt}; border: 3px solid ${CHAIN_COLOUR}; }
.scroll { overflow-x: auto; border: 1px solid #e4e7eb; border-radius: 6px; }
svg text { font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
svg .instr { font-size: 12px; fill: #1f2933; } svg .line { fill: #7b8794; }
svg .status { font-size: 11px; fill: #3e4c59; font-family: system-ui, sans-serif; } svg .cost { fill: #616e7c; }
svg .stage-name { font-size: 13px; font-weight: 600; fill: #323f4b; font-family: system-ui, sans-serif; }
svg .badge { font-size: 10px; fill: #fff; font-family: system-ui, sans-serif; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e4e7eb; vertical-align: top; }
td.num, th.num { text-align: right; white-space: nowrap; }
tr.rebuilt td.state { color: ${STATE_STROKE.rebuilt}; font-weight: 600; } tr.cached td.state { color: ${STATE_STROKE.cached}; }
tr.chain td:first-child { box-shadow: inset 3px 0 ${CHAIN_COLOUR}; }
ol.chains li, ul.advice li { margin-bottom: 6px; }
`;

function stepRef(s: GraphStep): string {
  return `line ${s.step.line} <code>${esc(shortText(s.step.instruction, 70))}</code> (${esc(s.step.stage)})`;
}

function chainsSection(graph: BuildGraph): string {
  if (graph.chains.length === 0) return `<p id="no-chain">No step was rebuilt: nothing changed.</p>`;
  const items = graph.chains.map((c) => {
    const root = graph.steps[c.root]!;
    const forced = c.forced.length === 0
      ? "It forced no other step."
      : `It forced ${c.forced.length} step${c.forced.length === 1 ? "" : "s"} to rebuild (${durationText(c.forced.reduce((n, i) => n + graph.steps[i]!.step.duration_ms, 0))}); ` +
        `the chain ends at ${c.last.map((i) => stepRef(graph.steps[i]!)).join(" and ")}.`;
    const stopped = c.stopped.length === 0
      ? ""
      : ` It stopped at ${c.stopped.map((i) => stepRef(graph.steps[i]!)).join(" and ")}: cached, as what ${c.stopped.length === 1 ? "it reads" : "they read"} came out the same.`;
    return `<li data-root="${c.root}">${stepRef(root)}: <b>${esc(root.step.reason ?? "rebuilt")}</b>. ${forced}${stopped}</li>`;
  });
  return `<ol class="chains">${items.join("\n")}</ol>`;
}

function adviceSection(report: BuildReport): string {
  if (report.advice.length === 0) return `<p id="no-advice">None: no changed COPY made slow RUN steps after it run again.</p>`;
  return `<ul class="advice">${report.advice.map((a) => `<li data-line="${a.line}">${esc(a.message)}</li>`).join("\n")}</ul>`;
}

function stepsTable(graph: BuildGraph): string {
  const rows = graph.stages.flatMap((stage) => stage.steps.map((s) => {
    const cls = [s.state, ...(s.inChain ? ["chain"] : [])].join(" ");
    const state = s.state === "rebuilt" ? "rebuilt" : s.state === "cached" ? "cached" : "";
    return `<tr id="row-${s.index}" class="${cls}"><td>${esc(s.step.stage)}</td><td class="num">${s.step.line}</td>` +
      `<td class="mono">${esc(s.step.instruction)}</td><td class="state">${state}</td><td>${esc(s.step.reason ?? "")}</td>` +
      `<td class="num">${durationText(s.step.duration_ms)}</td><td class="num">${s.step.layer_size === null ? "" : humanSize(s.step.layer_size)}</td></tr>`;
  }));
  return `<table><thead><tr><th>stage</th><th class="num">line</th><th>instruction</th><th>cache</th><th>reason</th><th class="num">time</th><th class="num">layer</th></tr></thead>` +
    `<tbody>${rows.join("\n")}</tbody></table>`;
}

export function renderHtml(report: BuildReport): string {
  const graph = buildGraph(report);
  const layout = layoutGraph(graph);
  const t = report.totals;
  const outcome = report.success
    ? report.image !== null ? `image <code>${esc(report.image.id.slice(0, 19))}</code>${report.image.tags.length > 0 ? ` tagged ${esc(report.image.tags.join(", "))}` : ""}` : "succeeded"
    : `<span class="failed">failed: ${esc(report.error ?? "unknown error")}</span>`;
  const title = `Build report: ${report.dockerfile}`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>${esc(title)}</h1>
<p class="summary">context <code>${esc(report.context)}</code> · ${outcome}</p>
<ul class="totals" id="totals">
<li><b>${t.hits}/${t.filesystem_steps}</b>steps cached (${Math.round(t.hit_ratio * 100)}%)</li>
<li><b>${t.misses}</b>rebuilt</li>
<li><b>${durationText(t.duration_ms)}</b>build time</li>
<li><b>${durationText(t.time_saved_ms)}</b>saved by the cache</li>
</ul>
</header>
<h2>Stages and steps</h2>
<div class="legend"><span class="cached">cached</span><span class="rebuilt">rebuilt (and why)</span><span class="metadata">metadata (FROM, ENV, CMD…)</span><span class="chain">chain of misses</span></div>
<div class="scroll">
${renderSvg(graph, layout)}
</div>
<h2>Chain of misses</h2>
${chainsSection(graph)}
<h2>Instruction order</h2>
${adviceSection(report)}
<h2>Every step</h2>
${stepsTable(graph)}
</body>
</html>
`;
}
