// The linear/nonlinear decomposition of one SAE's error (paper §1.1, §3.1, §3.2): the four headline metrics with their
// bootstrap intervals, and where the error's energy goes (‖SaeError‖² = ‖LinearError‖² + ‖NonlinearError‖² + cross).
import type { DecompositionResult } from "../../darkmatter/decomposition";
import type { Figure } from "../plotly";
import type { Row } from "../table";
import {
  axis, axisNames, barTrace, COMPONENT_COLORS, estimateColumns, figure, FigureOptions, Labelled, layout,
  num, panelDomains, panelTitle,
} from "./common";

/** What the decomposition figure and rows read (a full `DecompositionResult` fits). */
export type DecompositionSummary = Pick<DecompositionResult, "d" | "intercept" | "evaluatedOn" | "rows" | "vectorR2" | "normR2" | "fvu" | "fvuNonlinear" | "energy">;

/** The metrics panel: label, paper metric name, what is measured, colour. */
function metrics(r: DecompositionSummary) {
  return [
    { tick: "vector R²<br>(r2_mean_over_dims)", metric: "r2_mean_over_dims", quantity: "LinearError(x) as a prediction of SaeError(x)", estimate: r.vectorR2, color: COMPONENT_COLORS.linearError },
    { tick: "squared-norm R²<br>(r2)", metric: "r2", quantity: "norm probe x → ‖SaeError(x)‖²", estimate: r.normR2, color: COMPONENT_COLORS.saeError },
    { tick: "FVU<br>(fvu)", metric: "fvu", quantity: "fvu(x, Sae(x))", estimate: r.fvu, color: COMPONENT_COLORS.saeError },
    { tick: "FVU_nonlinear<br>(fvu_nonlinear)", metric: "fvu_nonlinear", quantity: "fvu(x, Sae(x) + LinearError(x))", estimate: r.fvuNonlinear, color: COMPONENT_COLORS.nonlinearError },
  ];
}

function energies(r: DecompositionSummary) {
  return [
    { tick: "‖SaeError‖²", quantity: "mean ‖SaeError(x)‖² per token", value: r.energy.saeError, color: COMPONENT_COLORS.saeError },
    { tick: "‖LinearError‖²", quantity: "mean ‖LinearError(x)‖² per token", value: r.energy.linearError, color: COMPONENT_COLORS.linearError },
    { tick: "‖NonlinearError‖²", quantity: "mean ‖NonlinearError(x)‖² per token", value: r.energy.nonlinearError, color: COMPONENT_COLORS.nonlinearError },
    { tick: "2·Linear·Nonlinear", quantity: "mean 2·LinearError(x)·NonlinearError(x) per token", value: r.energy.crossTerm, color: COMPONENT_COLORS.x },
  ];
}

/** Two panels: the four metrics (values printed, bootstrap error bars) and the mean squared norms of the components. */
export function decompositionFigure(result: DecompositionSummary, options: FigureOptions = {}): Figure {
  const [left, right] = panelDomains(2, 0.12);
  const a = axisNames(0), b = axisNames(1);
  const m = metrics(result), e = energies(result);
  const where = result.evaluatedOn === "test" ? `${result.rows.evaluated} test tokens` : `all ${result.rows.evaluated} tokens (in-sample)`;
  const data = [
    barTrace({
      name: "metric", x: m.map((v) => v.tick), values: m.map((v) => num(v.estimate.value)), intervals: m.map((v) => v.estimate.interval),
      color: m.map((v) => v.color), hoverLabel: "value", axes: { x: a.x, y: a.y }, showlegend: false,
    }),
    barTrace({
      name: "energy", x: e.map((v) => v.tick), values: e.map((v) => num(v.value)), color: e.map((v) => v.color),
      hoverLabel: "mean per token", axes: { x: b.x, y: b.y }, showlegend: false,
    }),
  ];
  return figure(data, layout(options.title ?? "SAE error decomposition", options.height ?? 420, {
    [a.xKey]: axis("", { domain: left, anchor: a.y, type: "category" }),
    [a.yKey]: axis("value", { anchor: a.x, rangemode: "tozero" }),
    [b.xKey]: axis("", { domain: right, anchor: b.y, type: "category" }),
    [b.yKey]: axis("mean squared norm per token", { anchor: b.x, rangemode: "tozero" }),
    annotations: [panelTitle("Metrics", left), panelTitle("Energy of the error components", right)],
    showlegend: false,
  }, `d = ${result.d} · ${where} · b* ${result.intercept ? "with" : "without"} intercept`));
}

/**
 * One row per quantity: the four metrics (paper metric name in `metric`) with interval bounds, then the mean squared
 * norms. Several labelled results give one block each, with an `sae` column first.
 */
export function decompositionRows(input: DecompositionSummary | readonly Labelled<DecompositionSummary>[]): Row[] {
  const entries = Array.isArray(input) ? input as readonly Labelled<DecompositionSummary>[] : [{ label: null, result: input as DecompositionSummary }];
  const rows: Row[] = [];
  for (const { label, result } of entries) {
    const prefix: Row = label === null ? {} : { sae: label };
    const evaluated = result.evaluatedOn === "test" ? "test" : "all (in-sample)";
    for (const m of metrics(result)) rows.push({ ...prefix, metric: m.metric, quantity: m.quantity, ...estimateColumns(m.estimate), tokens: result.rows.evaluated, evaluated_on: evaluated });
    for (const e of energies(result)) rows.push({ ...prefix, metric: "energy", quantity: e.quantity, ...estimateColumns(num(e.value)), tokens: result.rows.evaluated, evaluated_on: evaluated });
  }
  return rows;
}
