// Why norms are linear (paper §3.6): the norm probe on each decoder row, a*·d_i, against the latent's mean active
// value; if ‖z‖² ≈ Σ_i c_i f_i with c_i the typical magnitude of latent i, the points lie near the diagonal.
import { runningMean } from "../../darkmatter/probe-vs-latent";
import type { ProbeVsLatentResult } from "../../darkmatter/probe-vs-latent";
import { InputError } from "../../errors";
import type { Figure } from "../plotly";
import type { Row } from "../table";
import { axis, checkLength, COMPONENT_COLORS, estimateColumns, extent, figure, FigureOptions, full, hoverSafe, layout, num, nums, short, withAlpha } from "./common";

/** What the probe figure and rows read (a full `ProbeVsLatentResult` fits). */
export type ProbeVsLatentSummary = Pick<ProbeVsLatentResult, "latents" | "meanActive" | "probe" | "activeCount" | "correlation" | "probeR2" | "latentCount" | "rows">;

export interface ProbeFigureOptions extends FigureOptions {
  /** Latents drawn, in the result's order (largest mean active value first; default 10,000, the paper's). */
  maxLatents?: number;
  /** Running-mean window over that order (default 100, the paper's). */
  window?: number;
  /** Per latent, in the result's order: a token where it fires (e.g. its most-activating one), shown on hover. */
  labels?: readonly string[];
  /** Per latent, in the result's order: that token's context, shown on hover under the token. */
  contexts?: readonly string[];
}

/**
 * Scatter of a*·d_i (y) against mean active value (x) for the first `maxLatents` latents, with the running mean of both
 * along the latents' order as a line and the diagonal y = x for reference.
 */
export function probeVsLatentFigure(result: ProbeVsLatentSummary, options: ProbeFigureOptions = {}): Figure {
  const max = options.maxLatents ?? 10_000, window = options.window ?? 100;
  if (!(Number.isSafeInteger(max) && max >= 1)) throw new InputError("maxLatents", `must be a positive integer, got ${max}`);
  const n = Math.min(max, result.latents.length);
  checkLength("labels", options.labels, result.latents.length);
  checkLength("contexts", options.contexts, result.latents.length);
  const withTokens = options.labels !== undefined || options.contexts !== undefined;
  const tokenHover = (i: number) => [options.labels ? `<br>top token: <b>${hoverSafe(options.labels[i])}</b>` : "",
    options.contexts ? `<br>${hoverSafe(options.contexts[i])}` : ""].join("");
  const xs = Array.from(result.meanActive.subarray(0, n)), ys = Array.from(result.probe.subarray(0, n));
  const mx = runningMean(xs, Math.min(window, Math.max(1, n))), my = runningMean(ys, Math.min(window, Math.max(1, n)));
  const [lo, hi] = extent([0, ...xs, ...ys]) as [number, number];
  const data = [
    {
      type: "scatter", mode: "markers", name: "latents", x: nums(xs), y: nums(ys),
      marker: { color: withAlpha(COMPONENT_COLORS.sae, 0.35), size: 4 },
      customdata: Array.from({ length: n }, (_, i) => [result.latents[i], full(xs[i]), full(ys[i]), result.activeCount[i], ...(withTokens ? [tokenHover(i)] : [])]),
      hovertemplate: `latent %{customdata[0]}<br>mean active value: %{customdata[1]}<br>a*·d_i: %{customdata[2]}<br>active on %{customdata[3]} tokens${withTokens ? "%{customdata[4]}" : ""}<extra></extra>`,
    },
    {
      type: "scatter", mode: "lines", name: `running mean (${Math.min(window, n)} latents)`, x: nums(mx), y: nums(my),
      line: { color: COMPONENT_COLORS.saeError, width: 2.5 }, customdata: Array.from(my, full),
      hovertemplate: "running mean<br>mean active value: %{x}<br>a*·d_i: %{customdata}<extra></extra>",
    },
    {
      type: "scatter", mode: "lines", name: "y = x", x: [lo, hi], y: [lo, hi],
      line: { color: COMPONENT_COLORS.x, dash: "dash", width: 1 }, hoverinfo: "skip",
    },
  ];
  return figure(data, layout(options.title ?? "Norm probe on decoder rows vs mean active value", options.height ?? 480, {
    xaxis: axis("mean activation of latent i when active"),
    yaxis: axis("a*·d_i (norm probe on decoder row i)"),
  }, `${n} of ${result.latents.length} active latents · Pearson r = ${short(result.correlation)} · probe test R² = ${short(result.probeR2.value)}`));
}

/** The summary: probe test R² (with interval), correlation, and latent counts. */
export function probeVsLatentRows(result: ProbeVsLatentSummary): Row[] {
  return [
    { quantity: "probe test R² (r2) of z → ‖z‖²", ...estimateColumns(result.probeR2) },
    { quantity: "Pearson r of a*·d_i and mean active value", ...estimateColumns(num(result.correlation)) },
    { quantity: "active latents", ...estimateColumns(result.latents.length) },
    { quantity: "latents", ...estimateColumns(result.latentCount) },
    { quantity: "test tokens", ...estimateColumns(result.rows.evaluated) },
  ];
}
