// The synthetic test of the linear/nonlinear split (paper §3.7, v1 Figure 15 and Table 1): FVU against % of latents
// ablated, the σ_a × σ_r grid of estimated error shares as two heatmaps, and the 2×2 correlation table.
import type { NoiseCorrelationTable, SyntheticExperimentResult } from "../../darkmatter/synthetic";
import type { Figure } from "../plotly";
import type { Row } from "../table";
import {
  axis, axisNames, COMPONENT_COLORS, figure, FigureOptions, full, layout, num, nums, panelDomains, panelTitle, Trace,
} from "./common";

/** What the line panels read. */
export type SyntheticLines = Pick<SyntheticExperimentResult, "lines">;
/** What the heatmaps read. */
export type SyntheticGrid = Pick<SyntheticExperimentResult, "grid">;

const SIGMA_A = "σ_a: true linear noise (activation)";
const SIGMA_R = "σ_r: true nonlinear noise (reconstruction)";

/**
 * One panel per (σ_a, σ_r): FVU of the reconstruction (1 − r2_flat(x', r)) and after adding the linear error
 * (1 − r2_flat(x', r + x'b*)) against % of latents ablated, the x-axis reversed from 50 % to 0 % as in the paper.
 */
export function syntheticLinesFigure(result: SyntheticLines, options: FigureOptions = {}): Figure {
  const domains = panelDomains(result.lines.length, 0.08);
  const data: Trace[] = [];
  const lay: Record<string, unknown> = {};
  result.lines.forEach((panel, p) => {
    const ax = axisNames(p);
    const x = panel.points.map((q) => q.ablatedPercent);
    const series = [
      { name: "FVU of Sae(x) (estimated total error)", ys: panel.points.map((q) => q.fvuRecon), color: COMPONENT_COLORS.saeError },
      { name: "FVU of Sae(x) + LinearError (estimated nonlinear error)", ys: panel.points.map((q) => q.fvuLinear), color: COMPONENT_COLORS.nonlinearError },
    ];
    for (const s of series) {
      data.push({
        type: "scatter", mode: "lines+markers", name: s.name, legendgroup: s.name, showlegend: p === 0,
        x, y: nums(s.ys), xaxis: ax.x, yaxis: ax.y, line: { color: s.color }, marker: { color: s.color },
        customdata: s.ys.map(full),
        hovertemplate: `σ_a = ${panel.sigmaActivation}, σ_r = ${panel.sigmaReconstruction}<br>%{x} % ablated<br>${s.name}: %{customdata}<extra></extra>`,
      });
    }
    lay[ax.xKey] = axis("% of latents ablated", { domain: domains[p], anchor: ax.y, autorange: "reversed" });
    lay[ax.yKey] = axis(p === 0 ? "FVU (1 − r2_flat)" : "", { anchor: ax.x, rangemode: "tozero" });
  });
  return figure(data, layout(options.title ?? "Synthetic test: FVU against ablated latents", options.height ?? 420, {
    ...lay,
    annotations: result.lines.map((l, p) => panelTitle(`σ_a = ${l.sigmaActivation}, σ_r = ${l.sigmaReconstruction}`, domains[p])),
    legend: { orientation: "h", x: 0, y: -0.2 },
  }));
}

/**
 * The two heatmaps over the σ_a × σ_r grid: estimated nonlinear error (left) and estimated linear error (right); rows
 * σ_a, columns σ_r, cells annotated.
 */
export function syntheticGridFigure(result: SyntheticGrid, options: FigureOptions = {}): Figure {
  const g = result.grid;
  const [left, right] = panelDomains(2, 0.14);
  const levels = g.levels.map(String);
  const panels = [
    { title: "Estimated nonlinear error", z: g.estimatedNonlinearError, domain: left, colorbarX: left[1] + 0.01 },
    { title: "Estimated linear error", z: g.estimatedLinearError, domain: right, colorbarX: 1.01 },
  ];
  const data: Trace[] = [];
  const lay: Record<string, unknown> = {};
  panels.forEach((p, k) => {
    const ax = axisNames(k);
    data.push({
      type: "heatmap", x: levels, y: levels, z: p.z.map((row) => nums(row)), text: p.z.map((row) => row.map(full)),
      xaxis: ax.x, yaxis: ax.y, colorscale: "Viridis", texttemplate: "%{z:.3f}", xgap: 1, ygap: 1,
      colorbar: { x: p.colorbarX, len: 0.9, thickness: 12 },
      hovertemplate: `σ_a = %{y}, σ_r = %{x}<br>${p.title}: %{text}<extra></extra>`,
    });
    lay[ax.xKey] = axis(SIGMA_R, { domain: p.domain, anchor: ax.y, type: "category" });
    lay[ax.yKey] = axis(k === 0 ? SIGMA_A : "", { anchor: ax.x, type: "category" });
  });
  return figure(data, layout(options.title ?? `Synthetic test at ${g.ablatedPercent} % ablated: which noise each estimate picks up`, options.height ?? 440, {
    ...lay,
    annotations: panels.map((p) => panelTitle(p.title, p.domain)),
  }));
}

const CORRELATION_ROW_LABELS = { sigmaActivation: SIGMA_A, sigmaReconstruction: SIGMA_R } as const;

/** Table 1: Pearson correlations between the true noise levels (rows) and the estimated error shares (columns). */
export function syntheticCorrelationRows(correlation: NoiseCorrelationTable): Row[] {
  return correlation.rows.map((r, i) => ({
    noise: CORRELATION_ROW_LABELS[r],
    estimated_linear_error: num(correlation.values[i][0]),
    estimated_nonlinear_error: num(correlation.values[i][1]),
  }));
}

/** Every configuration: line-panel points first, then the grid cells. */
export function syntheticRows(result: Pick<SyntheticExperimentResult, "lines" | "grid">): Row[] {
  const points = [...result.lines.map((l) => l.points.map((q) => ({ part: "lines", q }))).flat(), ...result.grid.points.map((q) => ({ part: "grid", q }))];
  return points.map(({ part, q }) => ({
    part, ablated_percent: q.ablatedPercent, ablated_latents: q.ablatedLatents, sigma_activation: q.sigmaActivation,
    sigma_reconstruction: q.sigmaReconstruction, fvu_recon: num(q.fvuRecon), fvu_linear: num(q.fvuLinear),
    estimated_linear_error: num(q.estimatedLinearError), estimated_nonlinear_error: num(q.estimatedNonlinearError),
  }));
}
