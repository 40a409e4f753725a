// Width scaling (paper §3.1): Figure 1's breakdown of the dark matter into four stacked bands, the log-log view of the
// power-law fit, and the fit's table.
import { darkMatterBands } from "../../darkmatter/powerlaw";
import type { BandBreakdown, BandInput, PowerLawFit, PowerLawParameters } from "../../darkmatter/powerlaw";
import { InputError } from "../../errors";
import type { Figure } from "../plotly";
import type { Row } from "../table";
import {
  axis, COMPONENT_COLORS, extent, figure, FigureOptions, full, layout, logGrid, logRange, num, nums, short, Trace, withAlpha,
} from "./common";

export interface DarkMatterFigureOptions extends FigureOptions {
  /** The curves and bands run on to this multiple of the largest width, dotted beyond it (default 10, the paper's). */
  extrapolate?: number;
  /** Points per curve (default 200, log-spaced). */
  samples?: number;
  /** y-axis range (default: from 0 to a little above the largest value; the paper's Figure 1 uses [0, 0.37]). */
  yRange?: [number, number];
}

const formula = (p: Pick<PowerLawParameters, "c" | "a" | "m">) => `fvu ≈ ${short(p.c)} + ${short(p.a)}·W^(−${short(p.m)})`;

/** A line split into a solid part up to `split` and a dotted part beyond it (the paper's extrapolation style). */
function splitLine(name: string, xs: number[], ys: number[], split: number, color: string, dash = "solid"): Trace[] {
  const inside = xs.map((x) => x <= split), beyond = xs.map((x) => x >= split);
  const part = (keep: boolean[], style: string, showlegend: boolean): Trace => ({
    type: "scatter", mode: "lines", name, legendgroup: name, showlegend,
    x: xs.filter((_, i) => keep[i]), y: nums(ys.filter((_, i) => keep[i])),
    line: { color, width: 2, dash: style },
    customdata: ys.filter((_, i) => keep[i]).map(full),
    hovertemplate: `${name}<br>W = %{x}<br>%{customdata}<extra></extra>`,
  });
  return [part(inside, dash, true), part(beyond, "dot", false)];
}

/**
 * Figure 1 of the paper: FVU against SAE width (log x) as points with the fitted power law, FVU_nonlinear as points with
 * its mean as a horizontal line, and under the fitted curve four stacked filled bands from top to bottom — absent
 * features (fit minus c), linear error (c minus the mean FVU_nonlinear), encoder error (mean minus the pursuit
 * FVU_nonlinear; drawn only when `pursuitFvuNonlinear` is given) and nonlinear error (the rest). The bands come from
 * `darkMatterBands` (its `paper` breakdown) on a log-spaced grid; curves past the largest width are dotted.
 */
export function darkMatterFigure(input: BandInput, options: DarkMatterFigureOptions = {}): Figure {
  const widths = Array.from(input.widths);
  if (widths.length === 0) throw new InputError("widths", "needs at least one width");
  const extrapolate = options.extrapolate ?? 10, samples = options.samples ?? 200;
  if (!(Number.isFinite(extrapolate) && extrapolate >= 1)) throw new InputError("extrapolate", `must be a number ≥ 1, got ${extrapolate}`);
  if (!(Number.isSafeInteger(samples) && samples >= 2 && samples <= 100_000)) throw new InputError("samples", `must be an integer in [2, 100000], got ${samples}`);
  const [lo, hi] = extent(widths) ?? [1, 1];
  const grid = Array.from(new Set([...logGrid(lo, hi * extrapolate, samples), ...widths])).sort((p, q) => p - q);
  const breakdown = darkMatterBands(input, grid), bands = breakdown.paper;
  const withPursuit = input.pursuitFvuNonlinear !== undefined;

  // Stacked from the bottom: each band is filled down to the previous one; hover shows the band's own size.
  const layers: { key: "nonlinearError" | "encoderError" | "linearError" | "absentFeatures"; label: string }[] = [
    { key: "nonlinearError", label: "Nonlinear error" },
    ...(withPursuit ? [{ key: "encoderError" as const, label: "Encoder error" }] : []),
    { key: "linearError", label: "Linear error" },
    { key: "absentFeatures", label: "Absent features" },
  ];
  const top = new Array<number>(grid.length).fill(0);
  const bandTraces: Trace[] = layers.map(({ key, label }, k) => {
    const size = Array.from(bands[key]);
    for (let i = 0; i < grid.length; i++) top[i] += size[i];
    return {
      type: "scatter", mode: "lines", name: label, x: grid, y: nums(top),
      fill: k === 0 ? "tozeroy" : "tonexty", fillcolor: withAlpha(COMPONENT_COLORS[key], 0.35),
      line: { width: 0, color: COMPONENT_COLORS[key] },
      legendrank: 100 + layers.length - k, // the legend lists the bands top to bottom, as stacked
      customdata: size.map(full),
      hovertemplate: `${label}<br>W = %{x}<br>band: %{customdata}<extra></extra>`,
    };
  });

  const fitted = grid.map((w) => input.fit.c + input.fit.a * Math.pow(w, -input.fit.m));
  const meanLine = grid.map(() => breakdown.nonlinearMean);
  const points = (name: string, ys: ArrayLike<number>, color: string, symbol: string): Trace => ({
    type: "scatter", mode: "markers", name, x: widths, y: nums(ys),
    marker: { color, size: 9, symbol, line: { color: "white", width: 1 } },
    customdata: Array.from(ys, full),
    hovertemplate: `${name}<br>W = %{x}<br>%{customdata}<extra></extra>`,
  });
  const data: Trace[] = [
    ...bandTraces,
    ...splitLine(formula(input.fit), grid, fitted, hi, COMPONENT_COLORS.saeError),
    ...splitLine(`fvu_nonlinear ≈ ${short(breakdown.nonlinearMean)} (mean)`, grid, meanLine, hi, COMPONENT_COLORS.nonlinearError, "dash"),
    points("fvu (SAE)", input.fvu, COMPONENT_COLORS.saeError, "circle"),
    points("fvu_nonlinear (SAE + linear)", input.fvuNonlinear, COMPONENT_COLORS.nonlinearError, "diamond"),
  ];
  if (withPursuit) data.push(points("fvu_nonlinear (pursuit + linear)", input.pursuitFvuNonlinear!, COMPONENT_COLORS.encoderError, "square"));

  const ymax = extent([...fitted, ...Array.from(input.fvu)])?.[1] ?? 1;
  return figure(data, layout(options.title ?? "Dark matter of SAE error vs width", options.height ?? 480, {
    xaxis: axis("SAE width W (latents)", { type: "log", range: logRange([lo, hi * extrapolate], 1.1) }),
    yaxis: axis("fraction of variance unexplained (fvu)", { range: options.yRange ?? [0, ymax > 0 ? ymax * 1.08 : 1] }),
    legend: { orientation: "v", x: 1.02, y: 1, xanchor: "left" },
  }));
}

export interface PowerLawFigureInput {
  widths: ArrayLike<number>;
  fvu: ArrayLike<number>;
  fit: Pick<PowerLawParameters, "c" | "a" | "m">;
  /** Legend name of the measured series (default "fvu"). */
  label?: string;
}

/** The power-law fit on log-log axes (`sae_power_law_fit_60.pdf`): measured FVU, the fitted curve and the asymptote c. */
export function powerLawFitFigure(input: PowerLawFigureInput, options: DarkMatterFigureOptions = {}): Figure {
  const widths = Array.from(input.widths);
  if (widths.length === 0) throw new InputError("widths", "needs at least one width");
  if (input.fvu.length !== widths.length) throw new InputError("fvu", `has ${input.fvu.length} entries, expected ${widths.length} (one per width)`);
  const extrapolate = options.extrapolate ?? 1;
  const [lo, hi] = extent(widths) ?? [1, 1];
  const grid = logGrid(lo, hi * extrapolate, options.samples ?? 100);
  const { c, a, m } = input.fit;
  const name = input.label ?? "fvu";
  const data: Trace[] = [
    ...splitLine(formula(input.fit), grid, grid.map((w) => c + a * Math.pow(w, -m)), hi, COMPONENT_COLORS.saeError),
    {
      type: "scatter", mode: "lines", name: `asymptote c = ${short(c)}`, x: [grid[0], grid[grid.length - 1]], y: [num(c), num(c)],
      line: { color: COMPONENT_COLORS.x, dash: "dash", width: 1.5 }, hovertemplate: `c = ${full(c)}<extra></extra>`,
    },
    {
      type: "scatter", mode: "markers", name, x: widths, y: nums(input.fvu),
      marker: { color: COMPONENT_COLORS.saeError, size: 9 }, customdata: Array.from(input.fvu, full),
      hovertemplate: `${name}<br>W = %{x}<br>%{customdata}<extra></extra>`,
    },
  ];
  return figure(data, layout(options.title ?? "Power-law fit of FVU vs width", options.height ?? 420, {
    xaxis: axis("SAE width W (latents)", { type: "log" }),
    yaxis: axis(`${name} (log scale)`, { type: "log", ...(options.yRange ? { range: options.yRange.map(Math.log10) } : {}) }),
  }));
}

/** The fit's table: c, a, m with their bootstrap intervals, then r2 and rss of the fit. */
export function powerLawRows(fit: Pick<PowerLawFit, "c" | "a" | "m" | "r2" | "rss" | "points" | "weighting" | "intervals">): Row[] {
  const iv = fit.intervals;
  const row = (parameter: string, value: number, meaning: string, interval: { lo: number; hi: number } | null): Row => ({
    parameter, value: num(value), ci_lo: interval ? num(interval.lo) : null, ci_hi: interval ? num(interval.hi) : null, meaning,
  });
  return [
    row("c", fit.c, "asymptote: FVU at infinite width", iv ? iv.c : null),
    row("a", fit.a, "scale in FVU = c + a·W^(−m)", iv ? iv.a : null),
    row("m", fit.m, "exponent", iv ? iv.m : null),
    row("r2", fit.r2, `R² of the fit over ${fit.points} widths (${fit.weighting} weighting)`, null),
    row("rss", fit.rss, "residual sum of squares", null),
  ];
}

/** Per measured width, the four bands that add up to the measured FVU (`BandBreakdown.observed`), or the paper's curves. */
export function darkMatterBandRows(breakdown: BandBreakdown, which: "observed" | "paper" = "observed"): Row[] {
  const b = breakdown[which];
  return Array.from(b.widths, (w, i) => ({
    width: w,
    absent_features: num(b.absentFeatures[i]),
    linear_error: num(b.linearError[i]),
    encoder_error: num(b.encoderError[i]),
    nonlinear_error: num(b.nonlinearError[i]),
    total: num(b.total[i]),
  }));
}
