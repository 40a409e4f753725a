// Norm-prediction baselines (paper §3.5): R² of predicting ‖SaeError‖² from x against scalar predictors.
import { BASELINES } from "../../darkmatter/baselines";
import type { BaselineName, BaselineResult } from "../../darkmatter/baselines";
import type { Figure } from "../plotly";
import type { Row } from "../table";
import { axis, barTrace, CATEGORY_COLORS, COMPONENT_COLORS, estimateColumns, figure, FigureOptions, full, layout, METRIC_LABELS, num, Trace } from "./common";

/** The predictors' display names. */
export const BASELINE_LABELS: Record<BaselineName, string> = {
  x: "x (linear probe)",
  tokenIdentity: "token identity (in-sample)",
  modelLoss: "model per-token loss",
  l0: "SAE L0 per token",
  xNorm: "‖x‖",
};

/** What the baseline figures and rows read (a full `BaselineResult` fits). */
export type BaselineSummary = Pick<BaselineResult, "baselines" | "rows">;

const baselineColor = (b: BaselineName, k: number) => (b === "x" ? COMPONENT_COLORS.x : CATEGORY_COLORS[(k + 1) % CATEGORY_COLORS.length]);
const Y_TITLE = `${METRIC_LABELS.r2} of predicting ‖SaeError(x)‖²`;

/** One bar per predictor that was given, its R² printed and its bootstrap interval drawn. */
export function baselinesFigure(result: BaselineSummary, options: FigureOptions = {}): Figure {
  const present = BASELINES.filter((b) => result.baselines[b] !== null);
  const bar = barTrace({
    name: "R²", x: present.map((b) => BASELINE_LABELS[b]), values: present.map((b) => num(result.baselines[b]!.value)),
    intervals: present.map((b) => result.baselines[b]!.interval), color: present.map((b) => baselineColor(b, BASELINES.indexOf(b))),
    hoverLabel: "R² (r2)", showlegend: false,
  });
  return figure([bar], layout(options.title ?? "Predicting the squared SAE error norm: x vs scalar baselines", options.height ?? 420, {
    xaxis: axis("predictor (each with an intercept)", { type: "category" }), yaxis: axis(Y_TITLE), showlegend: false,
  }, `${result.rows.evaluated} test tokens`));
}

/** v1 Figure 13: one line per predictor across layers (one result per layer). */
export function baselinesByLayerFigure(entries: readonly { layer: number; result: BaselineSummary }[], options: FigureOptions = {}): Figure {
  const data: Trace[] = BASELINES.filter((b) => entries.some((e) => e.result.baselines[b] !== null)).map((b) => {
    const ys = entries.map((e) => num(e.result.baselines[b]?.value ?? null));
    return {
      type: "scatter", mode: "lines+markers", name: BASELINE_LABELS[b], x: entries.map((e) => e.layer), y: ys,
      line: { color: baselineColor(b, BASELINES.indexOf(b)) }, customdata: ys.map(full),
      hovertemplate: `${BASELINE_LABELS[b]}<br>layer %{x}<br>R² = %{customdata}<extra></extra>`,
    };
  });
  return figure(data, layout(options.title ?? "Predicting the squared SAE error norm across layers", options.height ?? 420, {
    xaxis: axis("layer"), yaxis: axis(Y_TITLE),
  }));
}

/** One row per predictor (and per layer, with a `layer` column, for a list): R², interval, and how it was scored. */
export function baselineRows(input: BaselineSummary | readonly { layer: number; result: BaselineSummary }[]): Row[] {
  const entries = Array.isArray(input) ? input as readonly { layer: number; result: BaselineSummary }[] : [{ layer: null, result: input as BaselineSummary }];
  const rows: Row[] = [];
  for (const { layer, result } of entries) {
    for (const b of BASELINES) {
      const e = result.baselines[b];
      rows.push({
        ...(layer === null ? {} : { layer }), predictor: BASELINE_LABELS[b], ...estimateColumns(e, "r2"),
        scored_on: e === null ? "not given" : b === "tokenIdentity" ? "all tokens (in-sample)" : "test",
      });
    }
  }
  return rows;
}
