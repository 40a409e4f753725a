// Contour plots over SAE width × L0 on log axes (paper §3.2, v1 Figure 2 and TMLR's three panels "R² predicting error
// norm", "R² predicting error vector", "FVU_nonlinear"; §3.1's FVU_nonlinear contour), from `contourGrid(s)` results:
// the paper's linear interpolation on the Delaunay triangulation, drawn with 15 levels, the SAEs as points. Panels given
// as bare points are gridded here the same way (`contourGrid`).
import { contourGrid } from "../../darkmatter/contours";
import type { ContourGrid } from "../../darkmatter/contours";
import { InputError } from "../../errors";
import type { Figure } from "../plotly";
import type { Row } from "../table";
import { axis, axisNames, checkLength, figure, FigureOptions, full, hoverSafe, layout, num, panelDomains, panelTitle, Trace } from "./common";

/** What the contour views read (a full `ContourGrid` fits). */
export type ContourSummary = Pick<ContourGrid, "metric" | "l0" | "x" | "y" | "z" | "points" | "axisRange">;

/** A panel as scattered SAEs, to be gridded like `contourGrid` does (linear on the Delaunay triangulation in log-log). */
export interface ContourPoints {
  title?: string;
  /** Metric name for the colour bar, e.g. "r2", "r2_mean_over_dims", "fvu_nonlinear". */
  metric: string;
  points: { width: number; l0: number; value: number; label?: string; id?: string }[];
  /** Which L0 the points carry (axis title only; default "nominal"). */
  l0?: "nominal" | "empirical";
}

/** A panel: a computed grid (optionally titled) or scattered points. */
export type ContourPanelInput = (ContourSummary & { title?: string }) | ContourPoints;

/** The paper's panel titles and metric names for `contourGrid`'s built-in metrics. */
const METRICS: Record<string, { title: string; name: string }> = {
  normR2: { title: "R² predicting error norm", name: "r2" },
  vectorR2: { title: "R² predicting error vector", name: "r2_mean_over_dims" },
  fvuNonlinear: { title: "FVU_nonlinear", name: "fvu_nonlinear" },
  fvu: { title: "FVU", name: "fvu" },
};

export interface ContourFigureOptions extends FigureOptions {
  /** Panel titles (default: the paper's, from each grid's metric). */
  titles?: string[];
  /** Contour levels (default 15, the paper's). */
  levels?: number;
  /** Colour scale (default "Viridis"). */
  colorscale?: string;
  /** Grid nodes per axis for panels given as points (default 60). */
  resolution?: number;
}

function toGrid(panel: ContourPanelInput, resolution: number): ContourSummary {
  if ("z" in panel) return panel;
  const points = panel.points.map((q) => ({ width: q.width, l0Nominal: q.l0, id: q.id ?? q.label, value: q.value }));
  const value = (q: object) => (q as { value: number }).value;
  const grid = contourGrid(points, value, { resolution });
  return { ...grid, metric: panel.metric, l0: panel.l0 ?? "nominal" };
}

const metricName = (g: ContourSummary) => METRICS[g.metric]?.name ?? g.metric;

/**
 * Side-by-side contour panels on log width × log L0 axes (ranges padded as the grid says: ×/÷1.15), SAEs overlaid as
 * points. Each panel is a `contourGrid` result, or scattered points that are gridded the same way.
 */
export function contourFigure(panels: readonly ContourPanelInput[], options: ContourFigureOptions = {}): Figure {
  if (panels.length === 0) throw new InputError("panels", "needs at least one contour grid or set of points");
  checkLength("titles", options.titles, panels.length);
  const grids = panels.map((p) => toGrid(p, options.resolution ?? 60));
  grids.forEach((g, k) => {
    if (g.z.length !== g.y.length || g.z.some((row) => row.length !== g.x.length)) throw new InputError(`grids[${k}].z`, `must be y × x = ${g.y.length} × ${g.x.length}`);
  });
  const domains = panelDomains(grids.length, 0.12);
  const titles = grids.map((g, k) => options.titles?.[k] ?? panels[k].title ?? METRICS[g.metric]?.title ?? g.metric);
  const data: Trace[] = [];
  const lay: Record<string, unknown> = {};
  grids.forEach((g, k) => {
    const ax = axisNames(k), name = hoverSafe(metricName(g));
    data.push({
      type: "contour", name: titles[k], xaxis: ax.x, yaxis: ax.y, x: g.x, y: g.y, z: g.z.map((row) => row.map((v) => num(v))),
      colorscale: options.colorscale ?? "Viridis", ncontours: options.levels ?? 15, autocontour: true,
      contours: { coloring: "fill", showlines: true }, line: { width: 0.5 },
      colorbar: { title: { text: metricName(g), side: "right" }, x: domains[k][1] + 0.005, xanchor: "left", len: 0.9, thickness: 10 },
      hovertemplate: `width %{x:.0f}<br>L0 %{y:.1f}<br>${name} (interpolated): %{z}<extra></extra>`,
    });
    data.push({
      type: "scatter", mode: "markers", name: `${titles[k]}: SAEs`, showlegend: false, xaxis: ax.x, yaxis: ax.y,
      x: g.points.map((q) => q.width), y: g.points.map((q) => q.l0),
      marker: { color: "white", size: 6, line: { color: "black", width: 1 } },
      text: g.points.map((q) => hoverSafe(q.id ?? "")), customdata: g.points.map((q) => full(q.value)),
      hovertemplate: `%{text}<br>width %{x}, L0 %{y}<br>${name}: %{customdata}<extra></extra>`,
    });
    lay[ax.xKey] = axis("SAE width (latents)", { type: "log", domain: domains[k], anchor: ax.y, range: g.axisRange.x.map(Math.log10) });
    lay[ax.yKey] = axis(k === 0 ? `L0 (${g.l0})` : "", { type: "log", anchor: ax.x, range: g.axisRange.y.map(Math.log10) });
  });
  return figure(data, layout(options.title ?? "Over SAE width and L0", options.height ?? 440, {
    ...lay, showlegend: false,
    annotations: grids.map((_, k) => panelTitle(titles[k], domains[k])),
  }));
}

/** One row per panel and SAE: its width, L0 and value (the measured points, not the interpolation). */
export function contourRows(panels: readonly ContourPanelInput[]): Row[] {
  return panels.flatMap((p) => {
    const metric = "z" in p ? metricName(p) : p.metric, l0 = `l0_${p.l0 ?? "nominal"}`;
    return (p.points as { width: number; l0: number; value: number; id?: string; label?: string }[]).map((q) => {
      const sae = q.id ?? q.label;
      return { metric, ...(sae !== undefined ? { sae } : {}), width: q.width, [l0]: q.l0, value: num(q.value) };
    });
  });
}
