// Turning a family's decompositions into the paper's predictability and width-scaling results, and checking the
// paper's claims against them. Notebooks call these; the numbers and verdicts come from here, not from cells.
import { fitPowerLaw, PowerLawFit } from "../darkmatter/powerlaw";
import { FamilyPoint, familyPoint, matchedL0 } from "../darkmatter/contours";
import type { Claim } from "./claim";
import { SaeDecomposition } from "./decompose-family";
import { mostSharedL0 } from "./saes";

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const f3 = (x: number) => x.toFixed(3);

/** Each decomposition as a contour/matching point (nominal L0 falls back to the measured one). */
export function familyPoints(decomps: SaeDecomposition[]): FamilyPoint[] {
  return decomps.map((d) => familyPoint(d.sae.width, d.sae.l0 ?? d.l0Empirical, d.result,
    { id: d.sae.path, l0Empirical: d.l0Empirical }));
}

/** A verdict on measurements: undecided (null) when there are none or one is not a number. */
const verdict = (xs: number[], holds: () => boolean): boolean | null =>
  xs.length === 0 || xs.some((x) => !Number.isFinite(x)) ? null : holds();

/** §3.2: error vectors about half linearly predictable, norms > 90 %, and FVU_nonlinear below FVU. */
export function predictabilityClaims(decomps: SaeDecomposition[]): Claim[] {
  const vec = decomps.map((d) => d.result.vectorR2.value), norm = decomps.map((d) => d.result.normR2.value);
  const fvus = decomps.flatMap((d) => [d.result.fvu.value, d.result.fvuNonlinear.value]);
  const below = decomps.filter((d) => d.result.fvuNonlinear.value < d.result.fvu.value).length;
  return [
    { claim: "About half of the SAE error vector is linearly predictable from x (test r2_mean_over_dims ≈ 0.5)",
      measured: `median ${f3(median(vec))} over ${vec.length} SAEs (range ${f3(Math.min(...vec))}–${f3(Math.max(...vec))})`,
      holds: verdict(vec, () => median(vec) >= 0.3 && median(vec) <= 0.7) },
    { claim: "Over 90 % of the SAE error norm is linearly predictable (test R² of x → ‖SaeError‖² > 0.9)",
      measured: `median ${f3(median(norm))} (range ${f3(Math.min(...norm))}–${f3(Math.max(...norm))})`,
      holds: verdict(norm, () => median(norm) > 0.9) },
    { claim: "Removing the linear error leaves less unexplained variance (fvu_nonlinear < fvu)",
      measured: `${below} of ${decomps.length} SAEs`, holds: verdict(fvus, () => below === decomps.length) },
  ];
}

export interface WidthScaling {
  /** The nominal L0 the widths were matched at. */
  l0: number;
  widths: number[];
  fvu: number[];
  fvuNonlinear: number[];
  /** The power-law fit; null when fewer than 3 widths share the L0 (`fitProblem` says so). */
  fit: PowerLawFit | null;
  fitProblem: string | null;
  /** The decompositions used, one per width. */
  used: SaeDecomposition[];
}

/** §3.1: FVU and FVU_nonlinear across widths at one nominal L0 (default: the L0 shared by most widths), with the power-law fit. */
export function widthScaling(decomps: SaeDecomposition[], l0?: number, bootstrap = 500): WidthScaling {
  const points = familyPoints(decomps);
  const target = l0 ?? mostSharedL0(points.map((p) => p.l0Nominal))!;
  const matched = matchedL0(points, target, { by: "nominal", tolerance: 0 });
  const used = matched.map((m) => decomps[points.indexOf(m.point)]);
  const widths = used.map((d) => d.sae.width);
  const fvu = used.map((d) => d.result.fvu.value), fvuNonlinear = used.map((d) => d.result.fvuNonlinear.value);
  // A three-parameter law needs three widths: with fewer (a user's folder), report the measurements without a fit.
  if (widths.length < 3) {
    return { l0: target, widths, fvu, fvuNonlinear, fit: null, used,
      fitProblem: `a power law c + a·W^(−m) needs SAEs of at least 3 widths at one L0; L0 ${target} has ${widths.length} (${widths.join(", ")})` };
  }
  const fit = fitPowerLaw(widths, fvu, { bootstrap: widths.length >= 4 ? { resamples: bootstrap, seed: 0 } : false });
  return { l0: target, widths, fvu, fvuNonlinear, fit, fitProblem: null, used };
}

/** §3.1: FVU falls as a power law in width towards a positive floor, while FVU_nonlinear stays roughly flat. */
export function widthScalingClaims(ws: WidthScaling): Claim[] {
  const spread = (xs: number[]) => (Math.max(...xs) - Math.min(...xs)) / (xs.reduce((a, b) => a + b, 0) / xs.length);
  const law = "At fixed L0, SAE error (fvu) falls with width like a power law c + a·W^(−m) with a positive asymptote";
  const fitClaim: Claim = ws.fit === null
    ? { claim: law, measured: `not fitted: ${ws.fitProblem}`, holds: null }
    : { claim: law, measured: `L0 ${ws.l0}, ${ws.widths.length} widths: c = ${f3(ws.fit.c)}, a = ${ws.fit.a.toPrecision(3)}, m = ${f3(ws.fit.m)}, fit R² = ${f3(ws.fit.r2)}`,
      holds: verdict([ws.fit.a, ws.fit.m, ws.fit.c, ws.fit.r2], () => ws.fit!.a > 0 && ws.fit!.m > 0 && ws.fit!.c > 0 && ws.fit!.r2 > 0.9) };
  return [
    fitClaim,
    { claim: "fvu_nonlinear stays roughly flat across widths while fvu falls",
      measured: `relative spread across widths: fvu_nonlinear ${f3(spread(ws.fvuNonlinear))} vs fvu ${f3(spread(ws.fvu))}`,
      holds: ws.widths.length >= 3 ? verdict([...ws.fvu, ...ws.fvuNonlinear], () => spread(ws.fvuNonlinear) < 0.5 * spread(ws.fvu)) : null },
  ];
}

/** One row per SAE with the §3.2 numbers (test split unless the decomposition says otherwise). */
export function familyRows(decomps: SaeDecomposition[]): Record<string, number | string>[] {
  return decomps.map((d) => ({
    width: d.sae.width, "L0 (nominal)": d.sae.l0 ?? "", "L0 (measured)": d.l0Empirical,
    fvu: d.result.fvu.value, fvu_nonlinear: d.result.fvuNonlinear.value,
    "vector R² (r2_mean_over_dims)": d.result.vectorR2.value, "squared-norm R²": d.result.normR2.value,
    "test tokens": d.result.rows.evaluated,
  }));
}

/** The §3.2 contour panels (squared-norm R², vector R², fvu_nonlinear over width × L0). */
export function contourPanels(decomps: SaeDecomposition[]): { title: string; metric: string; points: { width: number; l0: number; value: number; label: string }[] }[] {
  const pts = (f: (d: SaeDecomposition) => number) => decomps.map((d) => ({
    width: d.sae.width, l0: d.sae.l0 ?? d.l0Empirical, value: f(d), label: `width ${d.sae.width}, L0 ${d.sae.l0 ?? "?"}`,
  }));
  return [
    { title: "squared-norm R² (x → ‖SaeError‖²)", metric: "r2", points: pts((d) => d.result.normR2.value) },
    { title: "vector R² (x → SaeError)", metric: "r2_mean_over_dims", points: pts((d) => d.result.vectorR2.value) },
    { title: "fvu_nonlinear", metric: "fvu_nonlinear", points: pts((d) => d.result.fvuNonlinear.value) },
  ];
}
