// Why the headline numbers differ (notebook 10): both headline metrics against a setting (d_model, W/d), one line per
// series (e.g. per architecture), bootstrap intervals as error bars and the paper's values as dashed reference lines;
// and the share of the gap to the paper that each factor closes.
import type { Figure } from "../plotly";
import { axis, axisNames, barTrace, CATEGORY_COLORS, figure, FigureOptions, full, layout, METRIC_LABELS, num, panelDomains, panelTitle, Trace } from "./common";

/** A value with its interval bounds (null when unknown). */
export interface MeasureLike { value: number; lo: number | null; hi: number | null }

export interface HeadlineSeries {
  name: string;
  x: number[];
  vectorR2: MeasureLike[];
  normR2: MeasureLike[];
  /** Hover label per point. */
  labels?: string[];
}

export interface HeadlineFigureOptions extends FigureOptions {
  xTitle: string;
  /** The paper's values, drawn as dashed horizontal lines. */
  paper: { vectorR2: number; normR2: number };
  logX?: boolean;
}

const METRICS = [["vectorR2", METRIC_LABELS.vectorR2], ["normR2", METRIC_LABELS.normR2]] as const;

/** Two panels (vector R², squared-norm R²), a line per series, the paper's values as reference lines. */
export function headlineMetricsFigure(series: readonly HeadlineSeries[], options: HeadlineFigureOptions): Figure {
  const domains = panelDomains(2, 0.1);
  const data: Trace[] = [];
  const extra: Record<string, unknown> = {};
  const shapes: Record<string, unknown>[] = [], annotations: Record<string, unknown>[] = [];
  METRICS.forEach(([metric, label], p) => {
    const ax = axisNames(p);
    series.forEach((s, i) => {
      const m = s[metric];
      const y = m.map((v) => num(v.value));
      const known = m.some((v) => v.lo !== null && v.hi !== null);
      data.push({
        type: "scatter", mode: "lines+markers", name: s.name, legendgroup: s.name, showlegend: p === 0,
        x: [...s.x], y, xaxis: ax.x, yaxis: ax.y, line: { color: CATEGORY_COLORS[i % CATEGORY_COLORS.length] },
        ...(known ? { error_y: { type: "data", symmetric: false, visible: true, thickness: 1.2, width: 4,
          array: m.map((v) => (v.hi === null ? null : num(v.hi - v.value))), arrayminus: m.map((v) => (v.lo === null ? null : num(v.value - v.lo))) } } : {}),
        text: m.map((v, j) => `${s.labels?.[j] ?? s.name}: ${full(v.value)}${v.lo !== null && v.hi !== null ? ` [${full(v.lo)}, ${full(v.hi)}]` : ""}`),
        hoverinfo: "text",
      });
    });
    extra[ax.xKey] = axis(options.xTitle, { domain: domains[p], anchor: ax.y, ...(options.logX ? { type: "log" } : {}) });
    extra[ax.yKey] = axis(`test ${label}`, { anchor: ax.x, range: [0, 1.02] });
    const ref = options.paper[metric];
    shapes.push({ type: "line", xref: `${ax.x} domain`, x0: 0, x1: 1, yref: ax.y, y0: ref, y1: ref, line: { dash: "dash", color: "#444", width: 1.5 } });
    annotations.push({ text: `paper: ${metric === "normR2" ? "> " : "≈ "}${ref}`, xref: `${ax.x} domain`, x: 1, yref: ax.y, y: ref, xanchor: "right", yanchor: "bottom", showarrow: false, font: { size: 11 } });
    annotations.push(panelTitle(label, domains[p]));
  });
  return figure(data, layout(options.title ?? `The headline metrics against ${options.xTitle}`, options.height ?? 420, { ...extra, shapes, annotations }));
}

export interface GapClosedEntry { factor: string; vectorR2: number | null; normR2: number | null }

/** Grouped bars: per factor, the share of the baseline's gap to the paper that its paper-like setting closes. */
export function gapClosedFigure(entries: readonly GapClosedEntry[], options: FigureOptions = {}): Figure {
  const x = entries.map((e) => e.factor);
  const data = METRICS.map(([metric, label], i) => barTrace({
    name: label, x, values: entries.map((e) => num(e[metric])), color: CATEGORY_COLORS[i], hoverLabel: `share of the ${label} gap closed`,
  }));
  return figure(data, layout(options.title ?? "How much of the gap to the paper each factor closes (1 = all of it; unmeasured factors are blank)", options.height ?? 420, {
    barmode: "group", xaxis: axis("factor", { type: "category" }), yaxis: axis("share of the gap closed"),
    shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, yref: "y", y0: 0.5, y1: 0.5, line: { dash: "dot", color: "#888", width: 1 } }],
  }));
}
