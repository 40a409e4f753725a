// Auto-interpretability detection scores (paper §3.8, v1 Figure 8): accuracy per activation decile, with "Not" the
// correct-rejection rate on non-activating windows, for SAEs trained on linear vs nonlinear error, side by side.
import type { DetectionResult, Proportion } from "../../darkmatter/autointerp";
import { InputError } from "../../errors";
import type { Figure } from "../plotly";
import type { Row } from "../table";
import type { Estimate } from "../../darkmatter/common";
import {
  axis, barTrace, CATEGORY_COLORS, COMPONENT_COLORS, estimateColumns, estimateInterval, estimateValue, figure, FigureOptions, full, hoverSafe, layout, num,
  panelDomains, panelTitle, short, Trace, VALUES_WITH_ERROR_BARS,
} from "./common";

/** One SAE's detection result, with the component it was trained on (picks its colour from the shared palette). */
export interface DetectionEntry {
  label: string;
  /** A full `DetectionResult` fits; only the summary and the skipped list are read. */
  result: Pick<DetectionResult, "summary" | "skipped">;
  trainedOn?: "linearError" | "nonlinearError" | "saeError" | "x";
}

function groupLabels(deciles: number): string[] {
  return ["Not", ...Array.from({ length: deciles }, (_, q) => `Q${q + 1}`)];
}

function entryColor(e: DetectionEntry, k: number): string {
  return e.trainedOn ? COMPONENT_COLORS[e.trainedOn] : CATEGORY_COLORS[k % CATEGORY_COLORS.length];
}

function groups(result: Pick<DetectionResult, "summary">): Proportion[] {
  return [result.summary.negatives, ...result.summary.deciles];
}

/**
 * Grouped bars: for every SAE, the pooled accuracy on the non-activating windows ("Not", left) and per activation decile
 * (Q1 lowest … top decile at the right), with the paper's 95 % normal-approximation error bars and accuracies printed.
 */
export function detectionFigure(entries: readonly DetectionEntry[], options: FigureOptions = {}): Figure {
  if (entries.length === 0) throw new InputError("entries", "needs at least one detection result");
  const deciles = entries[0].result.summary.deciles.length;
  for (const e of entries) {
    if (e.result.summary.deciles.length !== deciles) throw new InputError(`${e.label}.summary.deciles`, `has ${e.result.summary.deciles.length} groups, the first result has ${deciles}`);
  }
  const x = groupLabels(deciles);
  const data: Trace[] = entries.map((e, k) => {
    const ps = groups(e.result);
    const ys = ps.map((p) => num(p.accuracy));
    return {
      type: "bar", name: `${e.label} (${e.result.summary.latents} latents)`, x, y: ys,
      marker: { color: entryColor(e, k) },
      text: ys.map((v) => short(v)), ...VALUES_WITH_ERROR_BARS, cliponaxis: false,
      error_y: {
        type: "data", symmetric: false, visible: true, thickness: 1.2, width: 3,
        array: ps.map((p, i) => (ys[i] === null ? null : num(p.normal.hi - p.accuracy))),
        arrayminus: ps.map((p, i) => (ys[i] === null ? null : num(p.accuracy - p.normal.lo))),
      },
      customdata: ps.map((p) => [full(p.accuracy), p.correct, p.total, full(p.normal.lo), full(p.normal.hi)]),
      hovertemplate: `${hoverSafe(e.label)}<br>%{x}: accuracy %{customdata[0]}<br>%{customdata[1]} of %{customdata[2]} correct<br>95 % CI [%{customdata[3]}, %{customdata[4]}]<extra></extra>`,
    };
  });
  return figure(data, layout(options.title ?? "Detection accuracy by activation decile", options.height ?? 440, {
    barmode: "group",
    xaxis: axis("activation decile (Not = non-activating windows)", { type: "category", categoryorder: "array", categoryarray: x }),
    yaxis: axis("detection accuracy", { range: [0, 1.1] }),
  }));
}

/** One row per SAE and group (Not, Q1 … Q10): correct, total, accuracy and both intervals. */
export function detectionRows(entries: readonly DetectionEntry[]): Row[] {
  const rows: Row[] = [];
  for (const e of entries) {
    const labels = groupLabels(e.result.summary.deciles.length);
    groups(e.result).forEach((p, i) => rows.push({
      sae: e.label, group: labels[i], correct: p.correct, total: p.total, accuracy: num(p.accuracy),
      normal_lo: num(p.normal.lo), normal_hi: num(p.normal.hi), wilson_lo: num(p.wilson.lo), wilson_hi: num(p.wilson.hi),
    }));
  }
  return rows;
}

/** One row per SAE: latents scored and skipped, mean accuracy and mean balanced accuracy with bootstrap intervals. */
export function detectionSummaryRows(entries: readonly DetectionEntry[]): Row[] {
  return entries.flatMap((e) => {
    const s = e.result.summary;
    const base = { sae: e.label, latents: s.latents, skipped: e.result.skipped.length };
    return [
      { ...base, quantity: "mean accuracy", ...estimateColumns(s.meanAccuracy) },
      { ...base, quantity: "mean balanced accuracy", ...estimateColumns(s.meanBalancedAccuracy) },
    ];
  });
}

/** One SAE trained on an error component: its held-out fvu (an estimate with an interval, or a number) and dead fraction. */
export interface TrainedOnErrorEntry {
  label: string;
  trainedOn: "linearError" | "nonlinearError" | "saeError" | "x";
  fvu: Estimate | number;
  deadFraction: number;
}

/** §3.8's "quantitatively worse": held-out fvu (left, with its interval) and dead fraction (right) per SAE. */
export function trainedOnErrorFigure(entries: readonly TrainedOnErrorEntry[], options: FigureOptions = {}): Figure {
  if (entries.length === 0) throw new InputError("entries", "needs at least one trained SAE");
  const labels = entries.map((e) => e.label), colors = entries.map((e) => COMPONENT_COLORS[e.trainedOn]);
  const [left, right] = panelDomains(2, 0.12);
  const data = [
    barTrace({ name: "fvu", x: labels, values: entries.map((e) => estimateValue(e.fvu)), intervals: entries.map((e) => estimateInterval(e.fvu)),
      color: colors, hoverLabel: "held-out fvu", axes: { x: "x", y: "y" }, showlegend: false }),
    barTrace({ name: "dead_fraction", x: labels, values: entries.map((e) => num(e.deadFraction)), color: colors,
      hoverLabel: "dead fraction (held-out rows)", axes: { x: "x2", y: "y2" }, showlegend: false }),
  ];
  return figure(data, layout(options.title ?? "SAEs trained on error components: held-out fvu and dead latents", options.height ?? 400, {
    xaxis: axis("trained on", { domain: left, anchor: "y", type: "category" }),
    yaxis: axis("fvu (held out)", { anchor: "x", rangemode: "tozero" }),
    xaxis2: axis("trained on", { domain: right, anchor: "y2", type: "category" }),
    yaxis2: axis("dead_fraction", { anchor: "x2", rangemode: "tozero" }),
    annotations: [panelTitle("held-out fvu (95 % interval)", left), panelTitle("dead latents (fire on no held-out row)", right)],
  }));
}
