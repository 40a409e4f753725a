// Predicting the target SAE's errors from other components' SAE reconstructions (paper §3.11, v1 Figure 10b): grouped
// bars of test r2_mean_over_dims by target and source, from a `crossComponentPrediction` result.
import type { CrossComponentResult, CrossTarget } from "../../darkmatter/cross-component";
import { InputError } from "../../errors";
import type { Figure } from "../plotly";
import type { Row } from "../table";
import { axis, barTrace, CATEGORY_COLORS, COMPONENT_LABELS, estimateColumns, figure, FigureOptions, layout, METRIC_LABELS, num } from "./common";

/** What the cross-component views read (a full `CrossComponentResult` fits). */
export type CrossComponentSummary = Pick<CrossComponentResult, "sources" | "targets" | "cells" | "rows">;

/** The paper's panel order. */
const TARGET_ORDER: CrossTarget[] = ["nonlinearError", "saeError", "linearError"];

function cell(result: CrossComponentSummary, source: string, target: CrossTarget) {
  const c = result.cells.find((x) => x.source === source && x.target === target);
  if (!c) throw new InputError("cells", `no cell for source "${source}" and target "${target}"`);
  return c;
}

/** A bar group per target (NonlinearError, SaeError, LinearError), a bar per source, R² printed, bootstrap intervals drawn. */
export function crossComponentFigure(result: CrossComponentSummary, options: FigureOptions & { yRange?: [number, number] } = {}): Figure {
  const targets = TARGET_ORDER.filter((t) => result.targets.includes(t));
  const ticks = targets.map((t) => COMPONENT_LABELS[t]);
  const data = result.sources.map(({ name }, s) => {
    const cells = targets.map((t) => cell(result, name, t));
    return barTrace({
      name, x: ticks, values: cells.map((c) => num(c.r2.value)), intervals: cells.map((c) => c.r2.interval),
      color: CATEGORY_COLORS[s % CATEGORY_COLORS.length], hoverLabel: `R² from ${name}`,
    });
  });
  return figure(data, layout(options.title ?? "Predicting the SAE's errors from other components' SAE reconstructions", options.height ?? 440, {
    barmode: "group",
    xaxis: axis("target", { type: "category" }),
    yaxis: axis(`test ${METRIC_LABELS.vectorR2}`, options.yRange ? { range: options.yRange } : { rangemode: "tozero" }),
  }, `${result.rows.evaluated} test tokens`));
}

/** One row per (target, source): test r2_mean_over_dims with its interval, and the fvu of the same prediction. */
export function crossComponentRows(result: CrossComponentSummary): Row[] {
  return TARGET_ORDER.filter((t) => result.targets.includes(t)).flatMap((t) => result.sources.map(({ name }) => {
    const c = cell(result, name, t);
    return { target: COMPONENT_LABELS[t], source: name, ...estimateColumns(c.r2, "r2_mean_over_dims"), fvu: num(c.fvu) };
  }));
}
