// Inference-time gradient pursuit (paper §3.10, v1 Figure 10a): FVU and FVU_nonlinear of the SAE's own encoder and of
// pursuit at the same per-token L0, per width; and the pursuit's convergence.
import type { Estimate } from "../../darkmatter/common";
import type { PursuitResult } from "../../darkmatter/pursuit";
import { InputError } from "../../errors";
import type { Figure } from "../plotly";
import type { Row } from "../table";
import {
  axis, COMPONENT_COLORS, errorBars, figure, FigureOptions, full, estimateInterval, layout, logRange, num, Trace, valueHover, estimateValue,
} from "./common";

/** FVU and FVU_nonlinear of one set of reconstructions: a `DecompositionResult` fits (its estimates give error bars), as do bare numbers. */
export interface FvuPair {
  fvu: Estimate | number;
  fvuNonlinear: Estimate | number;
}

/**
 * One width of the comparison: the SAE's encoder (decompose x against Sae(x)) and pursuit (decompose x against the
 * pursuit reconstructions, `decomposeSaeError({activations, sae: {reconstructions}})`).
 */
export interface PursuitComparison {
  width: number;
  encoder: FvuPair;
  pursuit: FvuPair;
}

function sorted(points: readonly PursuitComparison[]): PursuitComparison[] {
  if (points.length === 0) throw new InputError("points", "needs at least one width");
  for (const p of points) if (!(Number.isFinite(p.width) && p.width > 0)) throw new InputError("points.width", `must be a positive number, got ${p.width}`);
  return [...points].sort((a, b) => a.width - b.width);
}

/** FVU (solid) and FVU_nonlinear (dashed) against width on a log axis, encoder (circles) vs pursuit (squares). */
export function pursuitFigure(points: readonly PursuitComparison[], options: FigureOptions = {}): Figure {
  const ps = sorted(points);
  const widths = ps.map((p) => p.width);
  const series = [
    { name: "fvu, SAE encoder", pick: (p: PursuitComparison) => p.encoder.fvu, color: COMPONENT_COLORS.saeError, dash: "solid", symbol: "circle" },
    { name: "fvu, gradient pursuit", pick: (p: PursuitComparison) => p.pursuit.fvu, color: COMPONENT_COLORS.encoderError, dash: "solid", symbol: "square" },
    { name: "fvu_nonlinear, SAE encoder", pick: (p: PursuitComparison) => p.encoder.fvuNonlinear, color: COMPONENT_COLORS.nonlinearError, dash: "dash", symbol: "circle" },
    { name: "fvu_nonlinear, gradient pursuit", pick: (p: PursuitComparison) => p.pursuit.fvuNonlinear, color: COMPONENT_COLORS.encoderError, dash: "dash", symbol: "square-open" },
  ];
  const data: Trace[] = series.map((s) => {
    const ys = ps.map((p) => estimateValue(s.pick(p))), ivs = ps.map((p) => estimateInterval(s.pick(p)));
    const trace: Trace = {
      type: "scatter", mode: "lines+markers", name: s.name, x: widths, y: ys,
      line: { color: s.color, dash: s.dash, width: 2 }, marker: { color: s.color, symbol: s.symbol, size: 8 },
      customdata: ys.map((v, i) => valueHover(v, ivs[i])),
      hovertemplate: `${s.name}<br>W = %{x}<br>%{customdata}<extra></extra>`,
    };
    const err = errorBars(ys, ivs);
    if (err) trace.error_y = err;
    return trace;
  });
  return figure(data, layout(options.title ?? "Gradient pursuit vs the SAE encoder at the same per-token L0", options.height ?? 440, {
    xaxis: axis("SAE width W (latents)", { type: "log", range: logRange(widths, 1.3) }),
    yaxis: axis("fraction of variance unexplained (fvu, fvu_nonlinear)", { rangemode: "tozero" }),
  }));
}

/** One row per width: both metrics for encoder and pursuit, and pursuit's relative change in percent. */
export function pursuitRows(points: readonly PursuitComparison[]): Row[] {
  const change = (from: number | null, to: number | null) => (from === null || to === null || from === 0 ? null : num((100 * (to - from)) / from));
  return sorted(points).map((p) => {
    const ef = estimateValue(p.encoder.fvu), pf = estimateValue(p.pursuit.fvu), en = estimateValue(p.encoder.fvuNonlinear), pn = estimateValue(p.pursuit.fvuNonlinear);
    return {
      width: p.width, fvu_encoder: ef, fvu_pursuit: pf, fvu_change_percent: change(ef, pf),
      fvu_nonlinear_encoder: en, fvu_nonlinear_pursuit: pn, fvu_nonlinear_change_percent: change(en, pn),
    };
  });
}

/** What the pursuit-run views read (a full `PursuitResult` fits). */
export type PursuitRunSummary = Pick<PursuitResult, "tokens" | "latents" | "l0" | "iterations" | "residualEnergy" | "safeguardedSteps">;

/** Σ_t ‖x_t − pursuit_t‖² after each iteration (log y), relative to its start: how fast the pursuit converges. */
export function pursuitConvergenceFigure(result: PursuitRunSummary, options: FigureOptions = {}): Figure {
  const e = Array.from(result.residualEnergy);
  const rel = e.map((v) => (e[0] > 0 ? v / e[0] : null));
  const data: Trace[] = [{
    type: "scatter", mode: "lines+markers", name: "residual energy", x: e.map((_, k) => k), y: rel.map((v) => num(v)),
    line: { color: COMPONENT_COLORS.encoderError }, customdata: e.map(full),
    hovertemplate: "iteration %{x}<br>Σ‖x − pursuit(x)‖²: %{customdata}<br>relative: %{y}<extra></extra>",
  }];
  return figure(data, layout(options.title ?? `Gradient pursuit convergence (${result.tokens} tokens, ${result.latents} latents)`, options.height ?? 380, {
    xaxis: axis("iteration"), yaxis: axis("Σ‖x − pursuit(x)‖² / Σ‖x − b_dec‖²", { type: "log" }),
  }));
}

/** The run's summary: tokens, mean L0 reached, iterations, steps the safeguard shortened. */
export function pursuitResultRows(result: PursuitRunSummary): Row[] {
  let l0 = 0, it = 0;
  for (let t = 0; t < result.tokens; t++) { l0 += result.l0[t]; it += result.iterations[t]; }
  const e = result.residualEnergy;
  return [
    { quantity: "tokens", value: result.tokens },
    { quantity: "latents (dictionary size)", value: result.latents },
    { quantity: "mean L0 reached", value: result.tokens > 0 ? l0 / result.tokens : null },
    { quantity: "mean iterations", value: result.tokens > 0 ? it / result.tokens : null },
    { quantity: "final / initial residual energy", value: e.length > 0 && e[0] > 0 ? num(e[e.length - 1] / e[0]) : null },
    { quantity: "safeguarded steps", value: result.safeguardedSteps },
  ];
}
