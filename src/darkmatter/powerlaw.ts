// Width scaling of SAE error (paper §3.1, Figure 1): the power law FVU(W) = c + a·W^(−m) with c, a, m ≥ 0, its
// bootstrap intervals, and the four bands of Figure 1 (absent features, linear error, encoder error, nonlinear error).
//
// Fitter. The paper fits |c| + |a|·W^(−|m|) by 50,000 full-batch Adam steps on the squared error of the raw FVU from a
// random N(0,1) start, which depends on the seed and may stop short of the optimum. Here the same least-squares
// problem is solved by variable projection: for fixed m the model is linear in (c, a), so the best non-negative
// (c, a) has a closed form (the smallest residual over the four faces of the quadrant: interior, a = 0, c = 0, origin);
// that leaves the one-dimensional profile RSS(m), minimised by a log-spaced grid on [mMin, mMax] followed by golden-
// section search inside the bracket around the best grid point. Deterministic, and exact up to the search tolerance.
//
// Loss. Default `weighting: "uniform"` is the paper's plain squared error on raw FVU. "relative" weights each point by
// 1/FVU², i.e. squared relative residuals, a first-order version of fitting log-residuals (Σ(log y − log ŷ)² ≈
// Σ((y − ŷ)/y)²) that keeps the problem linear in (c, a); it suits FVUs spanning decades. "inverse-variance" weights by
// 1/se² from the caller's per-point standard errors (then RSS is a χ² statistic).
import { InputError } from "../errors";
import { Interval, percentileInterval } from "../linalg/bootstrap";
import { deriveSeed, uniform53 } from "../linalg/random";

export type PowerLawWeighting = "uniform" | "relative" | "inverse-variance";

export interface PowerLawBootstrapOptions {
  /** Resamples (default 1000). */
  resamples?: number;
  /** Seed (default 0). */
  seed?: number;
  /** Central coverage of the percentile intervals (default 0.95). */
  level?: number;
  /**
   * "parametric" (default when `standardErrors` are given): y*_i = ŷ_i + se_i·N(0,1), the widths fixed.
   * "residuals" (default otherwise): y*_i = ŷ_i + e_J·√(n/(n−3)), J uniform over the points (fixed widths, residuals
   *   assumed exchangeable; the factor undoes the shrinkage of residuals by fitting three parameters).
   * "points": resample (W, FVU) pairs with replacement. With the paper's 7 widths a resample often lacks the smallest
   *   or largest width and so cannot pin down m or c; resamples with fewer than 3 distinct widths are discarded and
   *   redrawn (counted in `discarded`). Intervals from this method are wide and unstable for few points.
   */
  method?: "parametric" | "residuals" | "points";
}

export interface PowerLawFitOptions {
  /** Loss weighting (default "uniform", the paper's). */
  weighting?: PowerLawWeighting;
  /** Per-point standard errors of FVU (needed by "inverse-variance" and the parametric bootstrap). */
  standardErrors?: ArrayLike<number>;
  /** Search range of the exponent m (default [0, 3]). */
  mRange?: [number, number];
  /** Points of the log-spaced grid over m (default 200; 0 is always added). */
  gridPoints?: number;
  /** Bootstrap intervals of c, a, m (default on, 1000 resamples); false switches it off. */
  bootstrap?: PowerLawBootstrapOptions | false;
}

/** The power-law parameters and the quality of fit. */
export interface PowerLawParameters {
  /** Asymptote (≥ 0): the FVU left at infinite width. */
  c: number;
  /** Scale (≥ 0) in FVU = c + a·W^(−m), W the number of latents. */
  a: number;
  /** Exponent (≥ 0). 0 when a = 0 (then the data show no width dependence and m is not identified). */
  m: number;
  /** Weighted residual sum of squares Σ w_i (y_i − ŷ_i)² (w = 1 for "uniform"). */
  rss: number;
  /** 1 − rss / Σ w_i (y_i − ȳ_w)². */
  r2: number;
}

export interface PowerLawFit extends PowerLawParameters {
  /** c + a·W^(−m) (computed relative to a reference width, so no overflow for large m). */
  fitted(width: number): number;
  points: number;
  weighting: PowerLawWeighting;
  /** Which constraints are active at the optimum. */
  constraints: { cAtZero: boolean; aAtZero: boolean; mAtLowerBound: boolean; mAtUpperBound: boolean };
  /** The profile RSS(m) on the search grid (for diagnostics: a flat profile means m is poorly determined). */
  profile: { m: Float64Array; rss: Float64Array };
  /** Percentile intervals over bootstrap refits; null when switched off. */
  intervals: { c: Interval; a: Interval; m: Interval; method: "parametric" | "residuals" | "points"; resamples: number; discarded: number; seed: number } | null;
}

interface Problem {
  /** Widths divided by the reference width w0 (their geometric mean). */
  u: Float64Array;
  w0: number;
  y: Float64Array;
  weight: Float64Array;
}

interface LinearPart { c: number; aScaled: number; rss: number }

/**
 * The best non-negative (c, a) for a fixed m, where FVU ≈ c + aScaled·(W/w0)^(−m): the convex problem's optimum lies
 * on one of the quadrant's faces, so take the smallest residual among the interior solution (if feasible), the two
 * clamped one-parameter fits and the origin.
 */
function solveLinear(p: Problem, m: number, z: Float64Array): LinearPart {
  const n = p.y.length;
  let sw = 0, swz = 0, swy = 0, swzz = 0, swzy = 0;
  for (let i = 0; i < n; i++) {
    const zi = (z[i] = Math.pow(p.u[i], -m)), wi = p.weight[i], yi = p.y[i];
    sw += wi; swz += wi * zi; swy += wi * yi; swzz += wi * zi * zi; swzy += wi * zi * yi;
  }
  const zBar = swz / sw, yBar = swy / sw;
  let vz = 0, czy = 0;
  for (let i = 0; i < n; i++) {
    const dz = z[i] - zBar;
    vz += p.weight[i] * dz * dz;
    czy += p.weight[i] * dz * (p.y[i] - yBar);
  }
  const candidates: [number, number][] = [];
  if (vz > 1e-14 * swzz) {
    const a = czy / vz, c = yBar - a * zBar;
    if (a >= 0 && c >= 0) candidates.push([c, a]);
  }
  candidates.push([Math.max(0, yBar), 0]);
  candidates.push([0, swzz > 0 ? Math.max(0, swzy / swzz) : 0]);
  let best: LinearPart = { c: 0, aScaled: 0, rss: Infinity };
  for (const [c, a] of candidates) {
    let rss = 0;
    for (let i = 0; i < n; i++) { const r = p.y[i] - c - a * z[i]; rss += p.weight[i] * r * r; }
    if (rss < best.rss) best = { c, aScaled: a, rss };
  }
  return best;
}

const GOLDEN = (Math.sqrt(5) - 1) / 2;

function searchGrid(mMin: number, mMax: number, points: number): Float64Array {
  // 0 (or mMin) first, then log-spaced up to mMax: small exponents need fine steps, large ones do not.
  const lo = Math.max(mMin, mMax * 1e-4);
  const grid = new Float64Array(points + 1);
  grid[0] = mMin;
  for (let k = 0; k < points; k++) grid[k + 1] = lo * Math.pow(mMax / lo, points === 1 ? 1 : k / (points - 1));
  return grid;
}

function fitProblem(p: Problem, mMin: number, mMax: number, gridPoints: number, withProfile: boolean) {
  const z = new Float64Array(p.y.length);
  const grid = searchGrid(mMin, mMax, gridPoints);
  const rss = new Float64Array(grid.length);
  let k = 0;
  for (let g = 0; g < grid.length; g++) {
    rss[g] = solveLinear(p, grid[g], z).rss;
    if (rss[g] < rss[k]) k = g;
  }
  let lo = grid[Math.max(0, k - 1)], hi = grid[Math.min(grid.length - 1, k + 1)];
  let bestM = grid[k], best = solveLinear(p, bestM, z);
  // Golden section inside the bracket; the grid point itself stays a candidate, so the search can only improve it.
  let x1 = hi - GOLDEN * (hi - lo), x2 = lo + GOLDEN * (hi - lo);
  let f1 = solveLinear(p, x1, z).rss, f2 = solveLinear(p, x2, z).rss;
  for (let it = 0; it < 200 && hi - lo > 1e-12 * Math.max(1, hi); it++) {
    if (f1 <= f2) { hi = x2; x2 = x1; f2 = f1; x1 = hi - GOLDEN * (hi - lo); f1 = solveLinear(p, x1, z).rss; }
    else { lo = x1; x1 = x2; f1 = f2; x2 = lo + GOLDEN * (hi - lo); f2 = solveLinear(p, x2, z).rss; }
  }
  const mid = (lo + hi) / 2, atMid = solveLinear(p, mid, z);
  if (atMid.rss <= best.rss) { best = atMid; bestM = mid; }
  // Prefer "no width dependence" when it fits as well up to rounding (else noise picks an arbitrary m with a ≈ 0).
  const flat = solveLinear(p, 0, z);
  let energy = 0;
  for (let i = 0; i < p.y.length; i++) energy += p.weight[i] * p.y[i] * p.y[i];
  if (flat.rss - best.rss <= 1e-12 * energy) best = { c: flat.c + flat.aScaled, aScaled: 0, rss: flat.rss };
  if (best.aScaled === 0) bestM = 0; // m is not identified then; report 0
  const a = best.aScaled * Math.pow(p.w0, bestM);
  return { c: best.c, aScaled: best.aScaled, a, m: bestM, rss: best.rss, profile: withProfile ? { m: grid, rss } : null };
}

function checkArray(name: string, values: ArrayLike<number>, n: number, positive: boolean): Float64Array {
  if (!values || typeof values.length !== "number") throw new InputError(name, "must be an array of numbers");
  if (values.length !== n) throw new InputError(name, `has ${values.length} entries, expected ${n} (one per width)`);
  const out = Float64Array.from(values);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(out[i])) throw new InputError(name, `entry ${i} is not a finite number (${values[i]})`);
    if (positive && !(out[i] > 0)) throw new InputError(name, `entry ${i} must be positive, got ${out[i]}`);
  }
  return out;
}

function weightsFor(weighting: PowerLawWeighting, y: Float64Array, se: Float64Array | null): Float64Array {
  const n = y.length, w = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (weighting === "uniform") w[i] = 1;
    else if (weighting === "relative") {
      if (!(y[i] > 0)) throw new InputError("fvu", `weighting "relative" needs positive FVU values; entry ${i} is ${y[i]}`);
      w[i] = 1 / (y[i] * y[i]);
    } else {
      if (!se) throw new InputError("standardErrors", 'weighting "inverse-variance" needs per-point standard errors');
      w[i] = 1 / (se[i] * se[i]);
    }
  }
  return w;
}

function standardNormals(seed: number): () => number {
  const u = uniform53(seed);
  let spare: number | null = null;
  return () => {
    if (spare !== null) { const s = spare; spare = null; return s; }
    const r = Math.sqrt(-2 * Math.log(1 - u())), t = 2 * Math.PI * u();
    spare = r * Math.sin(t);
    return r * Math.cos(t);
  };
}

/**
 * Fits FVU(W) = c + a·W^(−m), c, a, m ≥ 0, to FVU measured at several widths W (numbers of latents; the paper uses the 7
 * Gemma Scope widths 2^14…2^20 at L0 ≈ 60). Needs at least 3 points with at least 3 distinct widths.
 */
export function fitPowerLaw(widths: ArrayLike<number>, fvu: ArrayLike<number>, options: PowerLawFitOptions = {}): PowerLawFit {
  if (!widths || typeof widths.length !== "number") throw new InputError("widths", "must be an array of numbers");
  const n = widths.length;
  const w = checkArray("widths", widths, n, true);
  const y = checkArray("fvu", fvu, n, false);
  if (new Set(Array.from(w)).size < 3) throw new InputError("widths", `a three-parameter power law needs at least 3 distinct widths, got ${new Set(Array.from(w)).size}`);
  const se = options.standardErrors === undefined ? null : checkArray("standardErrors", options.standardErrors, n, true);
  const weighting = options.weighting ?? "uniform";
  if (!["uniform", "relative", "inverse-variance"].includes(weighting)) throw new InputError("weighting", `unknown weighting "${weighting}"`);
  const [mMin, mMax] = options.mRange ?? [0, 3];
  if (!(Number.isFinite(mMin) && Number.isFinite(mMax) && mMin >= 0 && mMax > mMin && mMax <= 20)) {
    throw new InputError("mRange", `must satisfy 0 ≤ mMin < mMax ≤ 20, got [${mMin}, ${mMax}]`);
  }
  const gridPoints = options.gridPoints ?? 200;
  if (!Number.isSafeInteger(gridPoints) || gridPoints < 2 || gridPoints > 100_000) throw new InputError("gridPoints", `must be an integer in [2, 100000], got ${gridPoints}`);

  let logSum = 0;
  for (let i = 0; i < n; i++) logSum += Math.log(w[i]);
  const w0 = Math.exp(logSum / n);
  const u = w.map((v) => v / w0);
  const weight = weightsFor(weighting, y, se);
  const problem: Problem = { u, w0, y, weight };
  const best = fitProblem(problem, mMin, mMax, gridPoints, true);

  let sw = 0, swy = 0;
  for (let i = 0; i < n; i++) { sw += weight[i]; swy += weight[i] * y[i]; }
  let sst = 0, energy = 0;
  for (let i = 0; i < n; i++) { sst += weight[i] * (y[i] - swy / sw) ** 2; energy += weight[i] * y[i] * y[i]; }
  const fittedScaled = (c: number, aScaled: number, m: number) => (width: number) => c + aScaled * Math.pow(width / w0, -m);
  const fitted = fittedScaled(best.c, best.aScaled, best.m);

  let intervals: PowerLawFit["intervals"] = null;
  if (options.bootstrap !== false) {
    const b = options.bootstrap ?? {};
    const resamples = b.resamples ?? 1000, seed = b.seed ?? 0, level = b.level ?? 0.95;
    const method = b.method ?? (se ? "parametric" : "residuals");
    if (!Number.isSafeInteger(resamples) || resamples < 1 || resamples > 100_000) throw new InputError("bootstrap.resamples", `must be an integer in [1, 100000], got ${resamples}`);
    if (!Number.isInteger(seed)) throw new InputError("bootstrap.seed", `must be an integer, got ${seed}`);
    if (!(level > 0 && level < 1)) throw new InputError("bootstrap.level", `must lie in (0, 1), got ${level}`);
    if (method === "parametric" && !se) throw new InputError("bootstrap.method", '"parametric" needs per-point standardErrors');
    if (!["parametric", "residuals", "points"].includes(method)) throw new InputError("bootstrap.method", `unknown method "${method}"`);
    const yHat = Float64Array.from(w, fitted);
    const inflate = n > 3 ? Math.sqrt(n / (n - 3)) : 1;
    const cs = new Float64Array(resamples), as = new Float64Array(resamples), ms = new Float64Array(resamples);
    const normal = standardNormals(deriveSeed(seed, 1));
    const pick = uniform53(deriveSeed(seed, 2));
    let discarded = 0;
    for (let r = 0; r < resamples; r++) {
      let sample: Problem;
      if (method === "points") {
        let idx: number[];
        for (;;) {
          idx = Array.from({ length: n }, () => Math.floor(pick() * n));
          if (new Set(idx.map((i) => w[i])).size >= 3) break;
          if (++discarded > 100 * resamples) throw new InputError("bootstrap.method", `"points" resampling of ${n} points almost never keeps 3 distinct widths; use "residuals" or "parametric"`);
        }
        const ys = Float64Array.from(idx, (i) => y[i]);
        sample = { u: Float64Array.from(idx, (i) => u[i]), w0, y: ys, weight: weightsFor(weighting, ys, se && Float64Array.from(idx, (i) => se[i])) };
      } else {
        const ys = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          if (method === "parametric") ys[i] = yHat[i] + (se as Float64Array)[i] * normal();
          else { const j = Math.floor(pick() * n); ys[i] = yHat[i] + (y[j] - yHat[j]) * inflate; }
        }
        // "relative" weights follow the resampled values; "uniform"/"inverse-variance" weights are fixed by design.
        sample = { u, w0, y: ys, weight: weighting === "relative" ? weightsFor(weighting, ys.map((v) => Math.max(v, 1e-12)), se) : weight };
      }
      const f = fitProblem(sample, mMin, mMax, gridPoints, false);
      cs[r] = f.c; as[r] = f.a; ms[r] = f.m;
    }
    intervals = {
      c: percentileInterval(cs, level), a: percentileInterval(as, level), m: percentileInterval(ms, level),
      method, resamples, discarded, seed,
    };
  }

  const profile = best.profile as { m: Float64Array; rss: Float64Array };
  return {
    c: best.c, a: best.a, m: best.m, rss: best.rss, r2: sst > 1e-20 * energy ? 1 - best.rss / sst : NaN, // NaN for constant FVU
    fitted, points: n, weighting,
    constraints: {
      cAtZero: best.c === 0, aAtZero: best.aScaled === 0,
      mAtLowerBound: best.aScaled !== 0 && best.m <= mMin + 1e-9, mAtUpperBound: best.m >= mMax * (1 - 1e-9),
    },
    profile, intervals,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Figure 1's four bands.

/** The four bands at a set of widths; the four add up to `total`. */
export interface Bands {
  widths: Float64Array;
  absentFeatures: Float64Array;
  linearError: Float64Array;
  encoderError: Float64Array;
  nonlinearError: Float64Array;
  /** absentFeatures + linearError + encoderError + nonlinearError. */
  total: Float64Array;
}

export interface BandInput {
  /** The measured widths. */
  widths: ArrayLike<number>;
  /** FVU(x, Sae(x)) per width. */
  fvu: ArrayLike<number>;
  /** FVU_nonlinear = FVU(x, Sae(x) + LinearError(x)) per width. */
  fvuNonlinear: ArrayLike<number>;
  /** FVU_nonlinear of the gradient-pursuit reconstructions per width (§3.10), if run. */
  pursuitFvuNonlinear?: ArrayLike<number>;
  /** The power law fitted to `fvu` (only c, a, m are read). */
  fit: Pick<PowerLawParameters, "c" | "a" | "m">;
}

export interface BandBreakdown {
  /** Plain mean of FVU_nonlinear over the widths: the paper's horizontal "FVU ≈ ⟨average⟩" line. */
  nonlinearMean: number;
  /** The paper's bands (curves), at `at` (default: the measured widths). They add up to the fitted curve. */
  paper: Bands;
  /** Per-width bands from the measured values at the measured widths. They add up to the measured FVU exactly. */
  observed: Bands;
}

/** Piecewise-linear interpolation in W (numpy.interp semantics: held constant beyond the end points). */
function interpolate(xs: Float64Array, ys: Float64Array, x: number): number {
  if (x <= xs[0]) return ys[0];
  const last = xs.length - 1;
  if (x >= xs[last]) return ys[last];
  let k = 1;
  while (xs[k] < x) k++;
  const t = (x - xs[k - 1]) / (xs[k] - xs[k - 1]);
  return ys[k - 1] + t * (ys[k] - ys[k - 1]);
}

/**
 * Figure 1's breakdown of SAE error (paper §1.2 and §3.1 step 5), from top to bottom:
 *   absent features = the part of FVU that vanishes as W → ∞;
 *   linear error    = what the linear map x ↦ x·b* recovers on top of the asymptote;
 *   encoder error   = the part of FVU_nonlinear that gradient pursuit removes (0 when pursuit is not given);
 *   nonlinear error = the rest.
 *
 * `paper` follows the paper's figure exactly, with curves rather than points: absent = a·W^(−m) (fit minus c);
 * linear = c − mean(FVU_nonlinear), one constant because the paper draws FVU_nonlinear as its mean across widths;
 * encoder = mean(FVU_nonlinear) − P(W) and nonlinear = P(W), P the pursuit FVU_nonlinear interpolated piecewise-
 * linearly in W between the measured widths and held constant beyond them (without pursuit: encoder 0, nonlinear =
 * the mean). These add up to the fitted curve, not to the measured FVU, and can be evaluated at any width (`at`,
 * e.g. extrapolated to 10× the largest width as in the figure).
 *
 * `observed` is the per-width version that adds up to the measured FVU exactly: absent = FVU(W) − c; linear =
 * c − FVU_nonlinear(W); encoder = FVU_nonlinear(W) − pursuit FVU_nonlinear(W); nonlinear = pursuit FVU_nonlinear(W)
 * (or FVU_nonlinear(W) without pursuit).
 *
 * Bands are signed: if the asymptote c lies below FVU_nonlinear the linear band is negative (the data then contradict
 * the figure's ordering; the paper's plot would show the lines crossing), and likewise for pursuit above FVU_nonlinear.
 */
export function darkMatterBands(input: BandInput, at?: ArrayLike<number>): BandBreakdown {
  if (!input.widths || typeof input.widths.length !== "number") throw new InputError("widths", "must be an array of numbers");
  const n = input.widths.length;
  if (n < 1) throw new InputError("widths", "needs at least one width");
  const widths = checkArray("widths", input.widths, n, true);
  const fvu = checkArray("fvu", input.fvu, n, false);
  const nl = checkArray("fvuNonlinear", input.fvuNonlinear, n, false);
  const pursuit = input.pursuitFvuNonlinear === undefined ? null : checkArray("pursuitFvuNonlinear", input.pursuitFvuNonlinear, n, false);
  const { c, a, m } = input.fit;
  for (const [k, v] of [["fit.c", c], ["fit.a", a], ["fit.m", m]] as const) {
    if (!(Number.isFinite(v) && v >= 0)) throw new InputError(k, `must be a finite non-negative number, got ${v}`);
  }
  const order = Array.from(widths.keys()).sort((i, j) => widths[i] - widths[j]);
  for (let k = 1; k < n; k++) {
    if (widths[order[k]] === widths[order[k - 1]]) throw new InputError("widths", `width ${widths[order[k]]} appears twice`);
  }
  const sortedW = Float64Array.from(order, (i) => widths[i]);
  const sortedP = pursuit ? Float64Array.from(order, (i) => pursuit[i]) : null;
  let nonlinearMean = 0;
  for (let i = 0; i < n; i++) nonlinearMean += nl[i];
  nonlinearMean /= n;

  const atW = at === undefined ? widths : checkArray("at", at, at.length, true);
  const paper = emptyBands(atW);
  for (let k = 0; k < atW.length; k++) {
    const W = atW[k];
    const below = sortedP ? interpolate(sortedW, sortedP, W) : nonlinearMean;
    paper.absentFeatures[k] = a * Math.pow(W, -m);
    paper.linearError[k] = c - nonlinearMean;
    paper.encoderError[k] = nonlinearMean - below;
    paper.nonlinearError[k] = below;
  }
  const observed = emptyBands(widths);
  for (let k = 0; k < n; k++) {
    const below = pursuit ? pursuit[k] : nl[k];
    observed.absentFeatures[k] = fvu[k] - c;
    observed.linearError[k] = c - nl[k];
    observed.encoderError[k] = nl[k] - below;
    observed.nonlinearError[k] = below;
  }
  for (const b of [paper, observed]) {
    for (let k = 0; k < b.widths.length; k++) b.total[k] = b.absentFeatures[k] + b.linearError[k] + b.encoderError[k] + b.nonlinearError[k];
  }
  return { nonlinearMean, paper, observed };
}

function emptyBands(widths: Float64Array): Bands {
  const k = widths.length;
  return {
    widths: Float64Array.from(widths), absentFeatures: new Float64Array(k), linearError: new Float64Array(k),
    encoderError: new Float64Array(k), nonlinearError: new Float64Array(k), total: new Float64Array(k),
  };
}
