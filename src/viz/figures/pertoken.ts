// Per-token predictability of error norms across widths (paper §3.3): the two heatmaps over pairs of widths and the
// per-token norm traces.
import type { PerTokenPredictability, PerTokenTraces } from "../../darkmatter/pertoken";
import { InputError } from "../../errors";
import type { Figure } from "../plotly";
import type { Row } from "../table";
import {
  axis, axisNames, checkLength, COMPONENT_LABELS, figure, FigureOptions, full, hoverSafe, layout, num, nums, panelDomains,
  panelTitle, sequentialColors, Trace, widthLabels,
} from "./common";

export interface HeatmapOptions extends FigureOptions {
  /** "upper" (default, the paper's): only cells with row ≤ column (predictor width ≤ target width); "full": all. */
  triangle?: "upper" | "full";
}

/** A width-pair heatmap: rows = predictor width "SAE width (x)" (first at the top), columns = target width "SAE width (y)". */
function widthHeatmap(widths: number[], matrix: number[][], o: {
  title: string; subtitle: string; height: number; triangle: "upper" | "full"; valueName: string; cellText: string; colorscale: unknown; zmin?: number; zmax?: number; zmid?: number; colorTitle: string;
}): Figure {
  const labels = widthLabels(widths);
  const keep = (i: number, j: number) => o.triangle === "full" || i <= j;
  const z = matrix.map((row, i) => row.map((v, j) => (keep(i, j) ? num(v) : null)));
  const hover = matrix.map((row, i) => row.map((v, j) => (keep(i, j) ? full(v) : "")));
  const trace: Trace = {
    type: "heatmap", x: labels, y: labels, z, text: hover,
    colorscale: o.colorscale, colorbar: { title: { text: o.colorTitle } },
    texttemplate: o.cellText, hoverongaps: false, xgap: 1, ygap: 1,
    customdata: matrix.map((row, i) => row.map((_, j) => [widths[i], widths[j]])),
    hovertemplate: `predictor width (x): %{customdata[0]}<br>target width (y): %{customdata[1]}<br>${o.valueName}: %{text}<extra></extra>`,
  };
  for (const k of ["zmin", "zmax", "zmid"] as const) if (o[k] !== undefined) trace[k] = o[k];
  return figure([trace], layout(o.title, o.height, {
    xaxis: axis("SAE width (y)", { type: "category", side: "bottom" }),
    yaxis: axis("SAE width (x)", { type: "category", autorange: "reversed" }),
  }, o.subtitle));
}

function checkSquare(name: string, m: number[][], k: number): void {
  if (!Array.isArray(m) || m.length !== k || m.some((row) => !Array.isArray(row) || row.length !== k)) {
    throw new InputError(name, `must be a ${k} × ${k} matrix (one row and column per width)`);
  }
}

/** Heatmap 1 of §3.3: test R² of ‖e_j‖ ~ ‖e_i‖ + 1 for every pair of widths, cells annotated. */
export function perTokenR2Heatmap(result: PerTokenPredictability, options: HeatmapOptions = {}): Figure {
  checkSquare("r2", result.r2, result.widths.length);
  return widthHeatmap(result.widths, result.r2, {
    title: options.title ?? "Predicting per-token ‖SaeError‖ of one width from another", subtitle: `test R² (r2) of ‖e_y‖ ~ ‖e_x‖ + 1 on ${result.tokens.test} test tokens`,
    height: options.height ?? 480, triangle: options.triangle ?? "upper",
    valueName: "test R² (r2)", cellText: "%{z:.3f}", colorscale: "Viridis", colorTitle: "R²",
  });
}

/** Heatmap 2 of §3.3: percent of the remaining variance explained by adding ‖NonlinearError_i‖ as a regressor. */
export function perTokenImprovementHeatmap(result: PerTokenPredictability, options: HeatmapOptions = {}): Figure {
  const pct = result.percentRemainingExplained;
  if (!pct) throw new InputError("percentRemainingExplained", "is null: the per-token norms had no nonlinearError for every width");
  checkSquare("percentRemainingExplained", pct, result.widths.length);
  return widthHeatmap(result.widths, pct, {
    title: options.title ?? "Remaining variance explained by adding ‖NonlinearError‖ of the predictor width (%)", subtitle: `100·(R²_new − R²_old)/(1 − R²_old) on ${result.tokens.test} test tokens`,
    height: options.height ?? 480, triangle: options.triangle ?? "upper",
    valueName: "% of remaining variance explained", cellText: "%{z:.1f}", colorscale: "RdBu", zmid: 0, colorTitle: "%",
  });
}

export interface TraceFigureOptions extends FigureOptions {
  /** The token at each position of the window (shown on hover). */
  labels?: readonly string[];
  /** Text around each token (shown on hover under the token). */
  contexts?: readonly string[];
  /** y-axis range of every panel (the paper uses [40, 100] for the linear and nonlinear panels of Gemma 9B). */
  yRange?: [number, number];
}

type NormSeries = "saeError" | "linearError" | "nonlinearError";

/**
 * The per-token line plots of §3.3: one panel per available component (‖SaeError‖, ‖LinearError‖, ‖NonlinearError‖)
 * with one line per width over the window's tokens. Hover shows the token and its context when given.
 */
export function perTokenTracesFigure(traces: PerTokenTraces, options: TraceFigureOptions = {}): Figure {
  const n = traces.tokenIndex.length;
  checkLength("labels", options.labels, n);
  checkLength("contexts", options.contexts, n);
  const components = (["saeError", "linearError", "nonlinearError"] as NormSeries[]).filter((c) => traces.series.every((s) => s[c] !== null));
  const domains = panelDomains(components.length, 0.06);
  const colors = sequentialColors(traces.series.length);
  const names = widthLabels(traces.series.map((s) => s.width)).map((l) => `width ${l}`);
  const x = Array.from(traces.tokenIndex);
  const tokenText = x.map((t, k) => {
    const parts = [`token ${t}`];
    if (options.labels) parts.push(`<b>${hoverSafe(options.labels[k])}</b>`);
    if (options.contexts) parts.push(hoverSafe(options.contexts[k]));
    return parts.join("<br>");
  });
  const data: Trace[] = [];
  const lay: Record<string, unknown> = {};
  components.forEach((component, p) => {
    const ax = axisNames(p);
    traces.series.forEach((s, w) => {
      const ys = s[component] as Float64Array;
      data.push({
        type: "scatter", mode: "lines", name: names[w], legendgroup: names[w], showlegend: p === 0,
        x, y: nums(ys), xaxis: ax.x, yaxis: ax.y, line: { color: colors[w], width: 1.5 },
        text: tokenText, customdata: Array.from(ys, full),
        hovertemplate: `%{text}<br>${names[w]}: ‖${COMPONENT_LABELS[component]}‖ = %{customdata}<extra></extra>`,
      });
    });
    lay[ax.xKey] = axis("token index", { domain: domains[p], anchor: ax.y });
    lay[ax.yKey] = axis(p === 0 ? "L2 norm (unsquared)" : "", { anchor: ax.x, ...(options.yRange ? { range: options.yRange } : {}) });
  });
  return figure(data, layout(options.title ?? `Per-token error norms across SAE widths (tokens ${x[0]}–${x[n - 1]})`, options.height ?? 420, {
    ...lay,
    annotations: components.map((c, p) => panelTitle(`‖${COMPONENT_LABELS[c]}‖`, domains[p])),
    hovermode: "closest",
  }));
}

/** One row per (predictor width, target width): test R², R² with the nonlinear norm, and the percent improvement. */
export function perTokenRows(result: PerTokenPredictability): Row[] {
  const rows: Row[] = [];
  result.widths.forEach((wx, i) => result.widths.forEach((wy, j) => {
    rows.push({
      width_x: wx, width_y: wy, r2: num(result.r2[i][j]),
      r2_with_nonlinear: result.r2WithNonlinear ? num(result.r2WithNonlinear[i][j]) : null,
      percent_remaining_explained: result.percentRemainingExplained ? num(result.percentRemainingExplained[i][j]) : null,
    });
  }));
  return rows;
}

/** One row per token of the window and width: the three norms (null where not given), with the token label if given. */
export function perTokenTraceRows(traces: PerTokenTraces, labels?: readonly string[]): Row[] {
  checkLength("labels", labels, traces.tokenIndex.length);
  const rows: Row[] = [];
  traces.tokenIndex.forEach((t, k) => {
    for (const s of traces.series) {
      rows.push({
        token_index: t, ...(labels ? { token: labels[k] } : {}), width: s.width,
        sae_error_norm: num(s.saeError[k]),
        linear_error_norm: s.linearError ? num(s.linearError[k]) : null,
        nonlinear_error_norm: s.nonlinearError ? num(s.nonlinearError[k]) : null,
      });
    }
  });
  return rows;
}
