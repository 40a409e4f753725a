// Per-token predictability of error norms across SAE widths (paper §3.3): do larger SAEs struggle on the same tokens
// as smaller ones, and is the nonlinear-error norm a per-token constant across widths?
//
// Inputs are per-token L2 norms (NOT squared, as the paper's per-token script uses) of SaeError, and optionally of
// LinearError and NonlinearError, for several SAE widths over the same tokens. All regressions here have an
// intercept (the paper's per-token script appends a ones column), are fit on the training rows of one seeded split
// shared by every pair (the paper reseeds with manual_seed(1) before each fit, i.e. also one permutation), and are
// scored by R² = 1 − Σ(y − ŷ)²/Σ(y − ȳ)² on the test rows (ȳ the test mean). Sums are float64 over centred values.
import { InputError } from "../errors";
import { TEST, TRAIN } from "../linalg/split";
import { resolveRoles, SplitChoice } from "./common";

/** Per-token norms of one SAE's error components; every array has one entry per token, same tokens for every width. */
export interface PerTokenNorms {
  /** Number of latents (a label; widths are kept in the order given). */
  width: number;
  /** ‖SaeError(x_t)‖₂ (unsquared). */
  saeError: ArrayLike<number>;
  /** ‖LinearError(x_t)‖₂. */
  linearError?: ArrayLike<number>;
  /** ‖NonlinearError(x_t)‖₂ (needed for the nonlinear-augmented matrix). */
  nonlinearError?: ArrayLike<number>;
}

export interface PerTokenPredictability {
  widths: number[];
  tokens: { total: number; train: number; test: number; seed: number };
  /**
   * r2[i][j] = test R² of ‖e_j‖ ~ ‖e_i‖ + 1 (row i: predictor width, "SAE width (x)"; column j: target width,
   * "SAE width (y)"). The full matrix is computed; the paper shows the upper triangle i ≤ j. The diagonal is 1.
   */
  r2: number[][];
  /** r2WithNonlinear[i][j] = test R² of ‖e_j‖ ~ ‖e_i‖ + ‖NonlinearError_i‖ + 1; null without nonlinear norms. */
  r2WithNonlinear: number[][] | null;
  /**
   * The paper's second heatmap: the percent of the variance left unexplained by ‖e_i‖ that adding ‖NonlinearError_i‖
   * explains, 100·(R²_new − R²_old)/(1 − R²_old), both test R². NaN where 1 − R²_old < 1e-12 (the diagonal: nothing
   * is left to explain). Can be negative on test data if the extra regressor overfits (it practically never does).
   */
  percentRemainingExplained: number[][] | null;
  /** Pairs where ‖NonlinearError_i‖ was collinear with ‖e_i‖ on the training rows and was left out. */
  warnings: string[];
}

function checkNorms(name: string, values: ArrayLike<number> | undefined, n: number): Float64Array {
  if (!values || typeof values.length !== "number") throw new InputError(name, "must be an array of per-token norms");
  if (values.length !== n) throw new InputError(name, `has ${values.length} tokens, the first width's saeError has ${n}`);
  const out = Float64Array.from(values);
  for (let t = 0; t < n; t++) {
    if (!(Number.isFinite(out[t]) && out[t] >= 0)) throw new InputError(name, `token ${t} has ${values[t]}; norms must be finite and ≥ 0`);
  }
  return out;
}

interface CheckedNorms { widths: number[]; tokens: number; sae: Float64Array[]; linear: (Float64Array | null)[]; nonlinear: (Float64Array | null)[] }

function checkAll(norms: readonly PerTokenNorms[]): CheckedNorms {
  if (!Array.isArray(norms) || norms.length < 1) throw new InputError("norms", "needs the per-token norms of at least one width");
  const first = norms[0]?.saeError;
  if (!first || typeof first.length !== "number") throw new InputError("norms[0].saeError", "must be an array of per-token norms");
  const tokens = first.length;
  const widths = norms.map((w, i) => {
    if (!(Number.isFinite(w.width) && w.width > 0)) throw new InputError(`norms[${i}].width`, `must be a positive number, got ${w.width}`);
    return w.width;
  });
  return {
    widths, tokens,
    sae: norms.map((w, i) => checkNorms(`norms[${i}].saeError`, w.saeError, tokens)),
    linear: norms.map((w, i) => (w.linearError === undefined ? null : checkNorms(`norms[${i}].linearError`, w.linearError, tokens))),
    nonlinear: norms.map((w, i) => (w.nonlinearError === undefined ? null : checkNorms(`norms[${i}].nonlinearError`, w.nonlinearError, tokens))),
  };
}

/** Least squares y ~ β·[x1, x2] + α on the training rows (x2 optional), from centred float64 sums. */
interface PairFit { alpha: number; b1: number; b2: number; usedSecond: boolean }

function fitPair(roles: Uint8Array, x1: Float64Array, x2: Float64Array | null, y: Float64Array): PairFit {
  let n = 0, m1 = 0, m2 = 0, my = 0;
  for (let t = 0; t < y.length; t++) {
    if (roles[t] !== TRAIN) continue;
    n++; m1 += x1[t]; my += y[t]; if (x2) m2 += x2[t];
  }
  m1 /= n; m2 /= n; my /= n;
  let s11 = 0, s12 = 0, s22 = 0, s1y = 0, s2y = 0;
  for (let t = 0; t < y.length; t++) {
    if (roles[t] !== TRAIN) continue;
    const a = x1[t] - m1, b = x2 ? x2[t] - m2 : 0, c = y[t] - my;
    s11 += a * a; s12 += a * b; s22 += b * b; s1y += a * c; s2y += b * c;
  }
  const det = s11 * s22 - s12 * s12;
  if (x2 && s22 > 0 && det > 1e-12 * s11 * s22) {
    const b1 = (s22 * s1y - s12 * s2y) / det, b2 = (s11 * s2y - s12 * s1y) / det;
    return { alpha: my - b1 * m1 - b2 * m2, b1, b2, usedSecond: true };
  }
  // One regressor (or a collinear/constant second one): a constant first regressor predicts the mean.
  const b1 = s11 > 0 ? s1y / s11 : 0;
  return { alpha: my - b1 * m1, b1, b2: 0, usedSecond: false };
}

function testR2(roles: Uint8Array, f: PairFit, x1: Float64Array, x2: Float64Array | null, y: Float64Array): number {
  let n = 0, my = 0;
  for (let t = 0; t < y.length; t++) if (roles[t] === TEST) { n++; my += y[t]; }
  my /= n;
  let sse = 0, sst = 0;
  for (let t = 0; t < y.length; t++) {
    if (roles[t] !== TEST) continue;
    const pred = f.alpha + f.b1 * x1[t] + (x2 ? f.b2 * x2[t] : 0);
    sse += (y[t] - pred) ** 2;
    sst += (y[t] - my) ** 2;
  }
  return sst > 0 ? 1 - sse / sst : NaN;
}

/**
 * The paper's per-token heatmaps (§3.3 steps 2–3): for every pair of widths (i, j), the test R² of ‖e_j‖ ~ ‖e_i‖ + 1,
 * and, when nonlinear norms are given for every width, of ‖e_j‖ ~ ‖e_i‖ + ‖NonlinearError_i‖ + 1 with the percent of
 * remaining variance it explains. Split: SplitChoice (default 150,000 training rows when there are more, else 60 %).
 */
export function perTokenPredictability(norms: readonly PerTokenNorms[], options: SplitChoice = {}): PerTokenPredictability {
  const c = checkAll(norms);
  if (c.tokens < 4) throw new InputError("norms", `needs at least 4 tokens for a train/test split, got ${c.tokens}`);
  const { roles, seed } = resolveRoles(c.tokens, options);
  let train = 0, test = 0;
  for (const r of roles) { if (r === TRAIN) train++; else if (r === TEST) test++; }
  if (train < 3 || test < 2) throw new InputError("split", `needs ≥ 3 training and ≥ 2 test tokens, got ${train} and ${test}`);
  const k = c.widths.length;
  const withNl = c.nonlinear.every((v) => v !== null);
  const r2: number[][] = [], r2Nl: number[][] = [], pct: number[][] = [];
  const warnings: string[] = [];
  for (let i = 0; i < k; i++) {
    r2.push([]); r2Nl.push([]); pct.push([]);
    for (let j = 0; j < k; j++) {
      const old = testR2(roles, fitPair(roles, c.sae[i], null, c.sae[j]), c.sae[i], null, c.sae[j]);
      r2[i].push(old);
      if (!withNl) continue;
      const nl = c.nonlinear[i] as Float64Array;
      const f = fitPair(roles, c.sae[i], nl, c.sae[j]);
      if (!f.usedSecond) warnings.push(`widths ${c.widths[i]} → ${c.widths[j]}: ‖NonlinearError‖ is collinear with ‖SaeError‖ (or constant) on the training tokens; fit without it`);
      const now = testR2(roles, f, c.sae[i], nl, c.sae[j]);
      r2Nl[i].push(now);
      pct[i].push(1 - old < 1e-12 ? NaN : (100 * (now - old)) / (1 - old));
    }
  }
  return {
    widths: c.widths, tokens: { total: c.tokens, train, test, seed }, r2,
    r2WithNonlinear: withNl ? r2Nl : null, percentRemainingExplained: withNl ? pct : null, warnings,
  };
}

// ---------------------------------------------------------------------------------------------------------------

/** The paper's line plots: 100 consecutive flattened tokens starting at index 10092 (with a 10-token inset). */
export const PAPER_TRACE_WINDOW = { start: 10092, length: 100 } as const;

export interface PerTokenTraces {
  /** Token indices of the window (flattened token order of the inputs). */
  tokenIndex: Uint32Array;
  series: { width: number; saeError: Float64Array; linearError: Float64Array | null; nonlinearError: Float64Array | null }[];
}

/** Per-token norms of every width over a contiguous window of tokens, for the paper's line plots (§3.3 step 4). */
export function perTokenTraces(norms: readonly PerTokenNorms[], window: { start: number; length: number } = PAPER_TRACE_WINDOW): PerTokenTraces {
  const c = checkAll(norms);
  const { start, length } = window;
  if (!Number.isSafeInteger(start) || start < 0) throw new InputError("window.start", `must be a non-negative integer, got ${start}`);
  if (!Number.isSafeInteger(length) || length < 1) throw new InputError("window.length", `must be a positive integer, got ${length}`);
  if (start + length > c.tokens) throw new InputError("window", `tokens ${start}…${start + length - 1} run past the ${c.tokens} tokens given`);
  const cut = (v: Float64Array | null) => (v ? v.slice(start, start + length) : null);
  return {
    tokenIndex: Uint32Array.from({ length }, (_, t) => start + t),
    series: c.widths.map((width, i) => ({ width, saeError: c.sae[i].slice(start, start + length), linearError: cut(c.linear[i]), nonlinearError: cut(c.nonlinear[i]) })),
  };
}

/** How much a component's per-token norm changes across widths. */
export interface AcrossWidthVariation {
  /** Mean over tokens and widths of the norm. */
  meanNorm: number;
  /** Mean over tokens of the standard deviation across widths (population, divisor = number of widths). */
  meanSpread: number;
  /** meanSpread / meanNorm: 0 when every token's norm is the same at every width. */
  relativeSpread: number;
}

/**
 * Summary of the line plots' claim (v1: "the norm of NonlinearError(x) is constant on a per token level as we scale
 * SAE width", while LinearError varies): per component, the across-width spread of each token's norm relative to the
 * mean norm, over all tokens. Null for components not given at every width.
 */
export function acrossWidthVariation(norms: readonly PerTokenNorms[]): { saeError: AcrossWidthVariation; linearError: AcrossWidthVariation | null; nonlinearError: AcrossWidthVariation | null } {
  const c = checkAll(norms);
  const k = c.widths.length;
  const summarise = (series: (Float64Array | null)[]): AcrossWidthVariation | null => {
    if (series.some((s) => s === null)) return null;
    const s = series as Float64Array[];
    let total = 0, spread = 0;
    for (let t = 0; t < c.tokens; t++) {
      let mean = 0;
      for (let i = 0; i < k; i++) mean += s[i][t];
      mean /= k;
      let v = 0;
      for (let i = 0; i < k; i++) v += (s[i][t] - mean) ** 2;
      total += mean;
      spread += Math.sqrt(v / k);
    }
    const meanNorm = total / c.tokens, meanSpread = spread / c.tokens;
    return { meanNorm, meanSpread, relativeSpread: meanNorm > 0 ? meanSpread / meanNorm : NaN };
  };
  return { saeError: summarise(c.sae) as AcrossWidthVariation, linearError: summarise(c.linear), nonlinearError: summarise(c.nonlinear) };
}
