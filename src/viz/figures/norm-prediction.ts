// The norm-prediction test (paper §3.4): how well a linear map of x predicts each component's squared norm. One SAE
// gives bars; several give one violin (or box) per component over the SAEs, as in v1 Figure 7 and TMLR Figure 6; and
// the TMLR depth plot follows SaeError's score through the layers.
import { NORM_COMPONENTS } from "../../darkmatter/norm-prediction";
import type { NormComponent, NormPredictionResult } from "../../darkmatter/norm-prediction";
import { InputError } from "../../errors";
import type { Figure } from "../plotly";
import type { Row } from "../table";
import {
  axis, barTrace, CATEGORY_COLORS, checkLength, COMPONENT_COLORS, COMPONENT_LABELS, estimateColumns, figure, FigureOptions, full,
  hoverSafe, Labelled, layout, METRIC_LABELS, num, nums, Trace,
} from "./common";

/** What the norm-prediction figure and rows read (a full `NormPredictionResult` fits). */
export type NormPredictionSummary = Pick<NormPredictionResult, "components" | "rows">;

export interface NormPredictionFigureOptions extends FigureOptions {
  /** Several SAEs: "violin" (default, the paper's) or "box". */
  style?: "violin" | "box";
  /** Several SAEs: drop values ≤ this before drawing (TMLR drops R² ≤ 0.5; default: keep all). The count is in the title. */
  dropAtOrBelow?: number;
  /** Components to show, in order (default: all six). */
  components?: readonly NormComponent[];
  /** y-axis range (v1 uses [0.55, 1.03]). */
  yRange?: [number, number];
}

const Y_TITLE = `${METRIC_LABELS.r2} of x → ‖component‖²`;

/**
 * One SAE: a bar per component with its test R² printed and its bootstrap interval. Several labelled SAEs: one violin
 * (or box) per component with every SAE as a point (hover names the SAE).
 */
export function normPredictionFigure(input: NormPredictionSummary | readonly Labelled<NormPredictionSummary>[], options: NormPredictionFigureOptions = {}): Figure {
  const components = options.components ?? NORM_COMPONENTS;
  for (const c of components) if (!(c in COMPONENT_LABELS)) throw new InputError("components", `unknown component "${c}"`);
  const ticks = components.map((c) => COMPONENT_LABELS[c]);
  const yaxis = axis(Y_TITLE, options.yRange ? { range: options.yRange } : {});
  if (!Array.isArray(input)) {
    const r = input as NormPredictionSummary;
    const bar = barTrace({
      name: "test R²", x: ticks, values: components.map((c) => num(r.components[c].value)), intervals: components.map((c) => r.components[c].interval),
      color: components.map((c) => COMPONENT_COLORS[c]), hoverLabel: "test R² (r2)", showlegend: false,
    });
    return figure([bar], layout(options.title ?? "Norm prediction: R² of ‖component‖² from x", options.height ?? 420, {
      xaxis: axis("component", { type: "category" }), yaxis, showlegend: false,
    }, `${r.rows.evaluated} test tokens`));
  }
  const entries = input as readonly Labelled<NormPredictionSummary>[];
  if (entries.length === 0) throw new InputError("results", "needs at least one result");
  const floor = options.dropAtOrBelow;
  let dropped = 0;
  const data: Trace[] = components.map((c, k) => {
    const kept = entries.filter((e) => {
      const v = e.result.components[c].value;
      const keep = Number.isFinite(v) && (floor === undefined || v > floor);
      if (!keep && Number.isFinite(v)) dropped++;
      return keep;
    });
    const ys = kept.map((e) => e.result.components[c].value);
    const common = {
      name: ticks[k], x: ys.map(() => ticks[k]), y: nums(ys), marker: { color: COMPONENT_COLORS[c], size: 5 }, line: { color: COMPONENT_COLORS[c] },
      text: kept.map((e) => hoverSafe(e.label)), customdata: ys.map(full),
      hovertemplate: `%{text}<br>${ticks[k]}: %{customdata}<extra></extra>`, showlegend: false,
    };
    return options.style === "box"
      ? { type: "box", boxpoints: "all", jitter: 0.4, pointpos: 0, ...common }
      : { type: "violin", points: "all", jitter: 0.4, pointpos: 0, box: { visible: true }, meanline: { visible: true }, spanmode: "hard", ...common };
  });
  const note = floor !== undefined && dropped > 0 ? ` · ${dropped} value${dropped === 1 ? "" : "s"} ≤ ${floor} dropped` : "";
  return figure(data, layout(options.title ?? "Norm prediction: R² of ‖component‖² from x", options.height ?? 460, {
    xaxis: axis("component", { type: "category" }), yaxis, showlegend: false, [options.style === "box" ? "boxmode" : "violinmode"]: "overlay",
  }, `${entries.length} SAEs${note}`));
}

export interface DepthSeries {
  /** e.g. "9B 16k". */
  label: string;
  /** Layer / number of layers per point. */
  depth: ArrayLike<number>;
  /** SaeError's norm-prediction R² per point. */
  r2: ArrayLike<number>;
}

/**
 * The TMLR depth plot (`r2_vs_depth.pdf`): SaeError's norm-prediction R² against relative depth, one line per
 * model/width. Negatives are drawn at 0 as in the paper (`clipNegative`, default true); hover shows the raw value.
 */
export function normR2VsDepthFigure(series: readonly DepthSeries[], options: FigureOptions & { clipNegative?: boolean; yRange?: [number, number] } = {}): Figure {
  const clip = options.clipNegative ?? true;
  const data: Trace[] = series.map((s, k) => {
    checkLength(`${s.label}.r2`, s.r2, s.depth.length);
    const raw = Array.from(s.r2);
    return {
      type: "scatter", mode: "lines+markers", name: s.label, x: nums(s.depth), y: nums(raw.map((v) => (clip ? Math.max(v, 0) : v))),
      line: { color: CATEGORY_COLORS[k % CATEGORY_COLORS.length] }, customdata: raw.map(full),
      hovertemplate: `${hoverSafe(s.label)}<br>depth %{x}<br>R² = %{customdata}<extra></extra>`,
    };
  });
  return figure(data, layout(options.title ?? "Norm prediction of SaeError(x) across depth", options.height ?? 420, {
    xaxis: axis("layer / number of layers"),
    yaxis: axis(`${METRIC_LABELS.r2} of x → ‖SaeError(x)‖²${clip ? " (negatives at 0)" : ""}`, { range: options.yRange ?? [0.4, 1.01] }),
  }));
}

/** One row per component (and per SAE, with an `sae` column, for several labelled results): test R² with its interval. */
export function normPredictionRows(input: NormPredictionSummary | readonly Labelled<NormPredictionSummary>[]): Row[] {
  const entries = Array.isArray(input) ? input as readonly Labelled<NormPredictionSummary>[] : [{ label: null, result: input as NormPredictionSummary }];
  const rows: Row[] = [];
  for (const { label, result } of entries) {
    for (const c of NORM_COMPONENTS) {
      rows.push({ ...(label === null ? {} : { sae: label }), component: COMPONENT_LABELS[c], ...estimateColumns(result.components[c], "r2"), tokens: result.rows.evaluated });
    }
  }
  return rows;
}
