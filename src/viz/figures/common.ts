// What every figure builder shares: one palette per error component, the paper's metric names as axis titles, and
// the small pieces (axes, bars with printed values, error bars from intervals, hover text) the builders assemble.
// Builders are pure: plain arrays out (typed arrays would serialise as objects), non-finite numbers as null (Plotly
// draws a gap), no clock, no randomness.
import { InputError } from "../../errors";
import type { Estimate } from "../../darkmatter/common";
import type { Interval } from "../../linalg/bootstrap";
import type { Figure } from "../plotly";
import type { Row } from "../table";

export type Trace = Record<string, unknown>;

/** Options every builder accepts. */
export interface FigureOptions {
  /** Replaces the default title. */
  title?: string;
  /** Pixel height (each builder has a default). */
  height?: number;
}

/** A result with the name it is shown under (for builders that compare several SAEs). */
export interface Labelled<T> {
  label: string;
  result: T;
}

/** One colour per error component, the same in every figure. */
export const COMPONENT_COLORS = {
  x: "#7f7f7f",
  sae: "#1f77b4",
  saeError: "#d62728",
  linearError: "#2ca02c",
  nonlinearError: "#9467bd",
  saePlusNonlinear: "#17becf",
  /** Figure 1's bands that are not components. */
  absentFeatures: "#ff9896",
  encoderError: "#ff7f0e",
} as const;

export type ColoredComponent = keyof typeof COMPONENT_COLORS;

/** The paper's names for the components. */
export const COMPONENT_LABELS: Record<ColoredComponent, string> = {
  x: "x",
  sae: "Sae(x)",
  saeError: "SaeError(x)",
  linearError: "LinearError(x)",
  nonlinearError: "NonlinearError(x)",
  saePlusNonlinear: "Sae(x) + NonlinearError(x)",
  absentFeatures: "Absent features",
  encoderError: "Encoder error",
};

/** Axis titles carrying the metric names of formats-and-metrics.md, so numbers can be matched to the paper. */
export const METRIC_LABELS = {
  fvu: "FVU (fvu)",
  fvuNonlinear: "FVU_nonlinear (fvu_nonlinear)",
  vectorR2: "vector R² (r2_mean_over_dims)",
  normR2: "squared-norm R² (r2)",
  r2: "test R² (r2)",
} as const;

/** Colours for an ordered series such as SAE widths (viridis, dark = first), sampled evenly. */
export function sequentialColors(n: number): string[] {
  const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const t = n === 1 ? 0 : (i / (n - 1)) * 0.9; // stop short of the pale end, which vanishes on white
    const p = t * (stops.length - 1), k = Math.min(stops.length - 2, Math.floor(p)), f = p - k;
    const rgb = stops[k].map((v, j) => Math.round(v + f * (stops[k + 1][j] - v)));
    out.push("#" + rgb.map((v) => v.toString(16).padStart(2, "0")).join(""));
  }
  return out;
}

/** Colours for unordered categories (Plotly's default cycle). */
export const CATEGORY_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

/** A colour with transparency, for filled areas. */
export function withAlpha(hex: string, alpha: number): string {
  const v = parseInt(hex.slice(1), 16);
  return `rgba(${(v >> 16) & 255},${(v >> 8) & 255},${v & 255},${alpha})`;
}

/** A finite number, or null (a gap in Plotly, and never NaN in the JSON). */
export function num(v: number | null | undefined): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/** Plain array of finite-or-null numbers from any array-like (typed arrays included). */
export function nums(values: ArrayLike<number>): (number | null)[] {
  return Array.from(values, (v) => num(v));
}

/** Full precision for hover text (the shortest string that round-trips). */
export function full(v: number | null | undefined): string {
  return typeof v === "number" && Number.isFinite(v) ? String(v) : "n/a";
}

/** Three significant digits for values printed on a chart. */
export function short(v: number | null | undefined): string {
  if (typeof v !== "number" || !Number.isFinite(v)) return "n/a";
  const a = Math.abs(v);
  if (a === 0) return "0";
  return a >= 1e-3 && a < 1e5 ? String(Number(v.toPrecision(3))) : v.toExponential(2);
}

/** Text that Plotly shows verbatim in hover labels (it parses a subset of HTML, so markup characters are escaped). */
export function hoverSafe(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/\r?\n/g, "↵").replace(/\t/g, "→");
}

/** The value of an estimate or a bare number. */
export function estimateValue(e: Estimate | number | null | undefined): number | null {
  if (e === null || e === undefined) return null;
  return num(typeof e === "number" ? e : e.value);
}

export function estimateInterval(e: Estimate | number | null | undefined): Interval | null {
  return e !== null && e !== undefined && typeof e !== "number" ? e.interval : null;
}

/** Asymmetric error bars from intervals; undefined when no interval is known (then no bars are drawn). */
export function errorBars(values: (number | null)[], intervals: (Interval | null)[]): Trace | undefined {
  if (intervals.every((iv) => iv === null)) return undefined;
  const up = values.map((v, i) => (v === null || !intervals[i] ? null : num(intervals[i]!.hi - v)));
  const down = values.map((v, i) => (v === null || !intervals[i] ? null : num(v - intervals[i]!.lo)));
  return { type: "data", symmetric: false, array: up, arrayminus: down, visible: true, thickness: 1.2, width: 4 };
}

/** Hover text for a value with its interval, at full precision. */
export function valueHover(v: number | null, iv: Interval | null): string {
  return iv ? `${full(v)} [${full(iv.lo)}, ${full(iv.hi)}] (${Math.round(iv.level * 100)} %)` : full(v);
}

/** An axis with a title (Plotly ≥ 3 wants {text}) and optional type/range. */
export function axis(title: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { title: { text: title }, automargin: true, zeroline: false, ...extra };
}

/** Axis range padded by ×/÷`factor` on a log axis (Plotly's log ranges are in log10 units). */
export function logRange(values: ArrayLike<number>, factor = 1.15): [number, number] | undefined {
  const e = extent(Array.from(values).filter((v) => v > 0));
  return e ? [Math.log10(e[0] / factor), Math.log10(e[1] * factor)] : undefined;
}

/** The base layout: title (with an optional subtitle for the details), height, closest-point hover. */
export function layout(title: string, height: number, extra: Record<string, unknown> = {}, subtitle?: string): Record<string, unknown> {
  return {
    title: subtitle ? { text: title, subtitle: { text: subtitle } } : { text: title },
    height, hovermode: "closest", margin: { t: subtitle ? 80 : 60, r: 20, b: 60, l: 70 }, ...extra,
  };
}

/** A figure from traces and layout (every builder returns through this). */
export function figure(data: Trace[], layoutObject: Record<string, unknown>): Figure {
  return { data, layout: layoutObject, config: { displaylogo: false, responsive: true } };
}

/** Horizontal domains of `n` side-by-side panels separated by `gap` (fractions of the plot width). */
export function panelDomains(n: number, gap = 0.08): [number, number][] {
  const w = (1 - gap * (n - 1)) / n;
  return Array.from({ length: n }, (_, i) => [i * (w + gap), i * (w + gap) + w] as [number, number]);
}

/** Layout key and trace reference of panel i: ("xaxis", "x"), ("xaxis2", "x2"), … */
export function axisNames(i: number): { xKey: string; yKey: string; x: string; y: string } {
  const s = i === 0 ? "" : String(i + 1);
  return { xKey: `xaxis${s}`, yKey: `yaxis${s}`, x: `x${s}`, y: `y${s}` };
}

/** A panel title placed above panel i's domain (subplots have no titles of their own). */
export function panelTitle(text: string, domain: [number, number]): Record<string, unknown> {
  return { text: `<b>${text}</b>`, x: (domain[0] + domain[1]) / 2, y: 1.0, xref: "paper", yref: "paper", xanchor: "center", yanchor: "bottom", showarrow: false };
}

/** Printed values sit inside the bar, mid-height, when error bars are drawn (above the bar they would collide with the whiskers). */
export const VALUES_WITH_ERROR_BARS = { textposition: "auto", insidetextanchor: "middle" } as const;

/**
 * A bar trace with its values printed above the bars, error bars from intervals (when known) and hover text at full
 * precision.
 */
export function barTrace(opts: {
  name: string;
  x: (string | number)[];
  values: (number | null)[];
  intervals?: (Interval | null)[];
  color: string | string[];
  hoverLabel?: string;
  axes?: { x: string; y: string };
  showlegend?: boolean;
  extra?: Record<string, unknown>;
}): Trace {
  const intervals = opts.intervals ?? opts.values.map(() => null);
  const trace: Trace = {
    type: "bar",
    name: opts.name,
    x: opts.x,
    y: opts.values,
    marker: { color: opts.color },
    text: opts.values.map((v) => short(v)),
    textposition: "outside",
    cliponaxis: false,
    customdata: opts.values.map((v, i) => valueHover(v, intervals[i])),
    hovertemplate: `%{x}<br>${hoverSafe(opts.hoverLabel ?? opts.name)}: %{customdata}<extra></extra>`,
  };
  const err = errorBars(opts.values, intervals);
  if (err) Object.assign(trace, { error_y: err }, VALUES_WITH_ERROR_BARS);
  if (opts.axes) { trace.xaxis = opts.axes.x; trace.yaxis = opts.axes.y; }
  if (opts.showlegend !== undefined) trace.showlegend = opts.showlegend;
  return { ...trace, ...(opts.extra ?? {}) };
}

/** Rows value columns for an estimate: value and its interval bounds (null without an interval). */
export function estimateColumns(e: Estimate | number | null | undefined, name = "value"): Row {
  const iv = estimateInterval(e);
  return { [name]: estimateValue(e), ci_lo: iv ? num(iv.lo) : null, ci_hi: iv ? num(iv.hi) : null };
}

/** Short labels for SAE widths in the paper's style (16384 → "16k", 1048576 → "1m"); exact numbers if two collide. */
export function widthLabels(widths: readonly number[]): string[] {
  const label = (w: number) => {
    if (w >= 1048576 && w % 1048576 === 0) return `${w / 1048576}m`;
    if (w >= 1000) return `${Math.floor(w / 1000)}k`;
    return String(w);
  };
  const labels = widths.map(label);
  return new Set(labels).size === labels.length ? labels : widths.map((w) => String(w));
}

/** `n` log-spaced values from lo to hi inclusive. */
export function logGrid(lo: number, hi: number, n: number): number[] {
  if (n < 2 || lo === hi) return [lo, hi];
  const a = Math.log(lo), b = Math.log(hi);
  return Array.from({ length: n }, (_, k) => (k === n - 1 ? hi : k === 0 ? lo : Math.exp(a + ((b - a) * k) / (n - 1))));
}

/** Checks that labels, when given, match the number of things they label (a mismatch would mislabel silently). */
export function checkLength(name: string, values: { length: number } | undefined, expected: number): void {
  if (values !== undefined && values.length !== expected) {
    throw new InputError(name, `has ${values.length} entries, expected ${expected}`);
  }
}

/** [min, max] of the finite values (no spread into Math.min, so any length works); null when there are none. */
export function extent(values: Iterable<number>): [number, number] | null {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) if (Number.isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
  return lo <= hi ? [lo, hi] : null;
}
