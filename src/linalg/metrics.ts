// The metrics, each under exactly one name with one formula (formats-and-metrics.md §3). The array functions and the
// streaming accumulator share one implementation: an array is one chunk. Sums are float64; per-column means and
// centred sums of squares are combined chunk by chunk with Chan's parallel update, which stays accurate for
// residual-stream dimensions whose mean dwarfs their spread (a plain Σy² − nȳ² would cancel catastrophically).
import { InputError } from "../errors";
import { Interval, percentileInterval } from "./bootstrap";
import { getKernels, Kernels } from "./kernels";

/** Every metric name the project reports, with its definition. x: targets, x̂: predictions, t: tokens, x̄: per-dim mean. */
export const METRICS = {
  fvu: "Σ_t‖x_t − x̂_t‖² / Σ_t‖x_t − x̄‖², totals over tokens and dims (function `fvu`)",
  fvu_nonlinear: "fvu(x, Sae(x) + LinearError(x)) = Σ‖NonlinearError‖² / Σ‖x − x̄‖² (function `fvuNonlinear`)",
  r2_mean_over_dims: "unweighted mean over output dims j of 1 − Σ_t(y_tj − ŷ_tj)² / Σ_t(y_tj − ȳ_j)²; the paper's R² for vector targets (function `r2MeanOverDims`)",
  r2: "scalar target: 1 − Σ(y − ŷ)² / Σ(y − ȳ)²; the paper's norm-prediction R² (function `r2`)",
  r2_flat: "1 − Σ(x − x̂)² / Σ(x − m)², m one scalar mean of all entries; the paper's synthetic experiment only (function `r2Flat`)",
  normalized_mse: "mean_t [ mean_d (x̂ − x)² / mean_d x² ], uncentred; OpenAI TopK paper (function `normalizedMse`)",
  explained_variance_legacy: "mean_t [ 1 − ‖x_t − x̂_t‖² / ‖x_t − x̄_batch‖² ], x̄ over the given rows; SAELens legacy (function `explainedVarianceLegacy`)",
  l0: "mean_t #{i : f_i(x_t) > 0}, active latents per token (function `l0`)",
} as const;
export type MetricName = keyof typeof METRICS;

/** Rows per block of the bootstrap's weighted sums (bounds their scratch memory). */
const BOOTSTRAP_BLOCK = 256;

/** Metrics of predictions ŷ of targets y over a set of rows (the fields carry the metric names of METRICS). */
export interface RegressionMetrics {
  /** Rows evaluated. */
  rows: number;
  /** Output dimensions. */
  outputs: number;
  /** `fvu` */
  fvu: number;
  /** `r2_mean_over_dims` (dims with zero variance excluded; see `constantDims`). */
  r2MeanOverDims: number;
  /** `r2` for a scalar target (outputs = 1); null for vector targets. */
  r2: number | null;
  /** `r2_flat` */
  r2Flat: number;
  /** `normalized_mse` */
  normalizedMse: number;
  /** Per output dim: 1 − SSE_j/SST_j (NaN for constant dims). */
  r2PerDim: Float64Array;
  /** Output dims whose targets are constant over the rows (excluded from `r2MeanOverDims`). */
  constantDims: number;
  /** Σ‖y − ŷ‖² and Σ‖y − ȳ‖² (the fvu numerator and denominator). */
  sumSquaredError: number;
  sumSquaredDeviation: number;
  /** Bootstrap percentile intervals, when the accumulator had resample weights. */
  intervals?: { fvu: Interval; r2MeanOverDims: Interval | null; r2: Interval | null };
}

export interface AccumulatorBootstrap {
  /** Number of resamples (rows of the weight matrices passed to `add`). */
  resamples: number;
  level: number;
  /**
   * true: keep per-dim weighted sums (needed for `r2_mean_over_dims`; cost resamples × 3·outputs); false: only
   * what `fvu` needs (resamples × (outputs + 2)).
   */
  perDim: boolean;
  /**
   * The reference the weighted sums are taken around (default: the first chunk's target means). Shards of one
   * evaluation must share one so that their sums add up.
   */
  shift?: Float64Array;
}

/**
 * Streaming accumulator of every regression metric. `add` takes row-major targets and predictions of the rows
 * to evaluate (and, with a bootstrap, their resample weights); `result` may be called at any time.
 */
export class RegressionAccumulator {
  private n = 0;
  private readonly mean: Float64Array;
  private readonly m2: Float64Array;
  private readonly sse: Float64Array;
  private ratioSum = 0; // Σ_t ‖y − ŷ‖² / ‖y‖² (normalized_mse)
  private readonly boot: AccumulatorBootstrap | null;
  private bootSums: Float64Array | null = null; // [resamples × width]
  private shift: Float64Array | null = null;
  private readonly kernels: Kernels;

  constructor(readonly outputs: number, options: { bootstrap?: AccumulatorBootstrap; native?: boolean } = {}) {
    if (!Number.isSafeInteger(outputs) || outputs < 1) throw new InputError("outputs", `must be a positive integer, got ${outputs}`);
    this.mean = new Float64Array(outputs);
    this.m2 = new Float64Array(outputs);
    this.sse = new Float64Array(outputs);
    this.boot = options.bootstrap ?? null;
    this.kernels = getKernels(options.native ?? true);
  }

  get rows(): number { return this.n; }

  private bootWidth(): number {
    const p = this.outputs;
    return this.boot!.perDim ? 3 * p : p + 2;
  }

  add(y: ArrayLike<number>, yHat: ArrayLike<number>, rows: number, weights?: Float64Array): void {
    const p = this.outputs;
    if (y.length !== rows * p || yHat.length !== rows * p) {
      throw new InputError("metrics", `expected ${rows}×${p} targets and predictions, got ${y.length} and ${yHat.length} values`);
    }
    if (rows === 0) return;
    if (this.boot && (!weights || weights.length !== this.boot.resamples * rows)) {
      throw new InputError("metrics", `a bootstrap accumulator needs ${this.boot.resamples}×${rows} resample weights per chunk`);
    }
    // Chunk means, then the chunk's centred sums of squares, then Chan's merge into the running totals.
    const cm = new Float64Array(p), cm2 = new Float64Array(p);
    for (let t = 0; t < rows; t++) {
      const o = t * p;
      for (let j = 0; j < p; j++) cm[j] += y[o + j];
    }
    for (let j = 0; j < p; j++) cm[j] /= rows;
    for (let t = 0; t < rows; t++) {
      const o = t * p;
      let err = 0, norm = 0;
      for (let j = 0; j < p; j++) {
        const v = y[o + j], dv = v - cm[j], e = v - yHat[o + j];
        cm2[j] += dv * dv;
        this.sse[j] += e * e;
        err += e * e;
        norm += v * v;
      }
      this.ratioSum += err / norm;
    }
    const n0 = this.n, n = n0 + rows;
    for (let j = 0; j < p; j++) {
      const delta = cm[j] - this.mean[j];
      this.mean[j] += (delta * rows) / n;
      this.m2[j] += cm2[j] + (delta * delta * n0 * rows) / n;
    }
    this.n = n;
    if (this.boot) this.addBootstrap(y, yHat, rows, weights as Float64Array, cm);
  }

  private addBootstrap(y: ArrayLike<number>, yHat: ArrayLike<number>, rows: number, w: Float64Array, chunkMean: Float64Array): void {
    const p = this.outputs, width = this.bootWidth(), B = this.boot!.resamples;
    if (!this.shift) this.shift = Float64Array.from(this.boot!.shift ?? chunkMean); // keeps the weighted sums of (y − s) small
    if (!this.bootSums) this.bootSums = new Float64Array(B * width);
    const s = this.shift, perDim = this.boot!.perDim;
    // Row blocks keep the per-row term matrix small ([block, 3·outputs]) whatever the chunk size.
    const block = Math.min(rows, BOOTSTRAP_BLOCK);
    const m = new Float64Array(block * width), wb = new Float64Array(B * block);
    for (let r0 = 0; r0 < rows; r0 += block) {
      const kb = Math.min(block, rows - r0);
      for (let t = 0; t < kb; t++) {
        const o = (r0 + t) * p, r = t * width;
        let err = 0, dev = 0;
        for (let j = 0; j < p; j++) {
          const v = y[o + j], e = v - yHat[o + j], d = v - s[j];
          if (perDim) { m[r + j] = e * e; m[r + p + j] = d * d; m[r + 2 * p + j] = d; }
          else { err += e * e; dev += d * d; m[r + 2 + j] = d; }
        }
        if (!perDim) { m[r] = err; m[r + 1] = dev; }
      }
      for (let b = 0; b < B; b++) wb.set(w.subarray(b * rows + r0, b * rows + r0 + kb), b * kb);
      this.kernels.gemmNN(B, width, kb, wb, m, this.bootSums, true);
    }
  }

  result(): RegressionMetrics {
    const out = regressionMetrics({ rows: this.n, mean: this.mean, m2: this.m2, sse: this.sse, ratioSum: this.ratioSum });
    if (this.boot && this.bootSums) out.intervals = bootstrapIntervals(this.bootSums, this.boot, this.outputs, this.n, constantMask(this.n, this.mean, this.m2));
    return out;
  }

  /** The resamples' weighted sums so far ([resamples × width], a copy; null before the first row or without a bootstrap). */
  get bootstrapSums(): Float64Array | null { return this.bootSums && this.bootSums.slice(); }
}

/**
 * The bootstrap intervals of `fvu`, `r2_mean_over_dims` (per-dim sums) and `r2` (one output) from the resamples'
 * weighted sums over `rows` rows (as RegressionAccumulator keeps them); `constant` marks dims left out of r2.
 */
export function bootstrapIntervals(S: Float64Array, boot: AccumulatorBootstrap, outputs: number, rows: number, constant: Uint8Array):
  NonNullable<RegressionMetrics["intervals"]> {
  const { resamples: B, level, perDim } = boot;
  const p = outputs, width = perDim ? 3 * p : p + 2, n = rows;
  if (S.length !== B * width) throw new InputError("bootstrap", `expected ${B}×${width} resample sums, got ${S.length} values`);
  const fvu = new Float64Array(B);
  const r2m = perDim ? new Float64Array(B) : null;
  for (let b = 0; b < B; b++) {
    const o = b * width;
    if (perDim) {
      let sse = 0, sst = 0, r2 = 0, counted = 0;
      for (let j = 0; j < p; j++) {
        const e = S[o + j], q = S[o + p + j], l = S[o + 2 * p + j];
        const dev = q - (l * l) / n; // every resample has exactly n draws
        sse += e; sst += dev;
        if (!constant[j]) { r2 += 1 - e / dev; counted++; }
      }
      fvu[b] = sse / sst;
      r2m![b] = counted > 0 ? r2 / counted : NaN;
    } else {
      let lin = 0;
      for (let j = 0; j < p; j++) lin += S[o + 2 + j] ** 2;
      fvu[b] = S[o] / (S[o + 1] - lin / n);
    }
  }
  const fvuInterval = percentileInterval(fvu, level);
  let r2Interval: Interval | null = null;
  if (p === 1) r2Interval = percentileInterval(fvu.map((v) => 1 - v), level);
  return { fvu: fvuInterval, r2MeanOverDims: r2m ? percentileInterval(r2m, level) : null, r2: r2Interval };
}

/** What every metric of RegressionMetrics but the intervals is computed from (per output dim but `ratioSum`). */
export interface RegressionSums {
  rows: number;
  /** Per dim: mean of the targets, Σ(y − ȳ)², Σ(y − ŷ)². */
  mean: Float64Array;
  m2: Float64Array;
  sse: Float64Array;
  /** Σ_t ‖y − ŷ‖² / ‖y‖² (normalized_mse); NaN where the rows are no longer at hand (sums merged from shards). */
  ratioSum: number;
}

/** Dims whose centred sum of squares is zero up to the rounding of their mean. */
export function constantMask(n: number, mean: Float64Array, m2: Float64Array): Uint8Array {
  const mask = new Uint8Array(mean.length);
  for (let j = 0; j < mean.length; j++) {
    const scale = 8 * Number.EPSILON * Math.abs(mean[j]);
    mask[j] = m2[j] <= n * scale * scale ? 1 : 0;
  }
  return mask;
}

/** The metrics of METRICS from their sums (the one place their formulas live). */
export function regressionMetrics(s: RegressionSums): RegressionMetrics {
  const p = s.mean.length, n = s.rows;
  const r2PerDim = new Float64Array(p);
  const constant = constantMask(n, s.mean, s.m2);
  let sse = 0, sst = 0, r2Sum = 0, counted = 0, constantDims = 0;
  for (let j = 0; j < p; j++) {
    sse += s.sse[j];
    sst += s.m2[j];
    if (constant[j]) { r2PerDim[j] = NaN; constantDims++; continue; }
    r2PerDim[j] = 1 - s.sse[j] / s.m2[j];
    r2Sum += r2PerDim[j];
    counted++;
  }
  // r2_flat: centred on one scalar mean of all entries, m2_flat = Σ_j m2_j + n Σ_j (mean_j − m)².
  let grand = 0;
  for (let j = 0; j < p; j++) grand += s.mean[j];
  grand /= p;
  let flat = 0;
  for (let j = 0; j < p; j++) flat += s.m2[j] + n * (s.mean[j] - grand) ** 2;
  return {
    rows: n, outputs: p,
    fvu: sse / sst,
    r2MeanOverDims: counted > 0 ? r2Sum / counted : NaN,
    r2: p === 1 ? 1 - sse / sst : null,
    r2Flat: 1 - sse / flat,
    normalizedMse: s.ratioSum / n,
    r2PerDim, constantDims,
    sumSquaredError: sse, sumSquaredDeviation: sst,
  };
}

function checkPair(x: ArrayLike<number>, xHat: ArrayLike<number>, cols: number, what: string): number {
  if (!Number.isSafeInteger(cols) || cols < 1) throw new InputError(what, `cols must be a positive integer, got ${cols}`);
  if (x.length !== xHat.length) throw new InputError(what, `targets have ${x.length} values, predictions ${xHat.length}`);
  if (x.length === 0 || x.length % cols !== 0) throw new InputError(what, `${x.length} values are not whole rows of ${cols}`);
  return x.length / cols;
}

function evaluate(x: ArrayLike<number>, xHat: ArrayLike<number>, cols: number, what: string): RegressionMetrics {
  const rows = checkPair(x, xHat, cols, what);
  const acc = new RegressionAccumulator(cols);
  acc.add(x, xHat, rows);
  return acc.result();
}

/** Metric `fvu`: Σ‖x − x̂‖² / Σ‖x − x̄‖² over row-major [rows, cols] arrays. */
export function fvu(x: ArrayLike<number>, xHat: ArrayLike<number>, cols: number): number {
  return evaluate(x, xHat, cols, "fvu").fvu;
}

/** Metric `fvu_nonlinear`: fvu(x, Sae(x) + LinearError(x)). */
export function fvuNonlinear(x: ArrayLike<number>, saeOut: ArrayLike<number>, linearError: ArrayLike<number>, cols: number): number {
  if (saeOut.length !== linearError.length) {
    throw new InputError("fvuNonlinear", `Sae(x) has ${saeOut.length} values, LinearError ${linearError.length}`);
  }
  const sum = new Float64Array(saeOut.length);
  for (let i = 0; i < sum.length; i++) sum[i] = saeOut[i] + linearError[i];
  return evaluate(x, sum, cols, "fvuNonlinear").fvu;
}

/** Metric `r2_mean_over_dims`: the mean over output dims of per-dim R² (constant dims excluded). */
export function r2MeanOverDims(y: ArrayLike<number>, yHat: ArrayLike<number>, cols: number): number {
  return evaluate(y, yHat, cols, "r2MeanOverDims").r2MeanOverDims;
}

/** Metric `r2` for a scalar target: 1 − Σ(y − ŷ)² / Σ(y − ȳ)². */
export function r2(y: ArrayLike<number>, yHat: ArrayLike<number>): number {
  return evaluate(y, yHat, 1, "r2").r2 as number;
}

/** Metric `r2_flat`: 1 − Σ(x − x̂)² / Σ(x − m)² with m the scalar mean of all entries. */
export function r2Flat(x: ArrayLike<number>, xHat: ArrayLike<number>, cols: number): number {
  return evaluate(x, xHat, cols, "r2Flat").r2Flat;
}

/** Metric `normalized_mse`: mean over rows of ‖x̂ − x‖² / ‖x‖² (uncentred). */
export function normalizedMse(x: ArrayLike<number>, xHat: ArrayLike<number>, cols: number): number {
  return evaluate(x, xHat, cols, "normalizedMse").normalizedMse;
}

/**
 * Metric `explained_variance_legacy`: mean over rows of 1 − ‖x_t − x̂_t‖² / ‖x_t − x̄‖², where x̄ is the mean of
 * the rows given (SAELens computes it per batch, so the value depends on the batch; it has no streaming form).
 */
export function explainedVarianceLegacy(x: ArrayLike<number>, xHat: ArrayLike<number>, cols: number): number {
  const rows = checkPair(x, xHat, cols, "explainedVarianceLegacy");
  const mean = new Float64Array(cols);
  for (let t = 0; t < rows; t++) for (let j = 0; j < cols; j++) mean[j] += x[t * cols + j];
  for (let j = 0; j < cols; j++) mean[j] /= rows;
  let sum = 0;
  for (let t = 0; t < rows; t++) {
    let err = 0, dev = 0;
    for (let j = 0; j < cols; j++) {
      const v = x[t * cols + j];
      err += (v - xHat[t * cols + j]) ** 2;
      dev += (v - mean[j]) ** 2;
    }
    sum += 1 - err / dev;
  }
  return sum / rows;
}

/** Metric `l0`: mean number of latents with f > 0 per row of row-major latent activations [rows, latents]. */
export function l0(latents: ArrayLike<number>, latentCount: number): number {
  if (!Number.isSafeInteger(latentCount) || latentCount < 1) throw new InputError("l0", `latent count must be a positive integer, got ${latentCount}`);
  if (latents.length === 0 || latents.length % latentCount !== 0) {
    throw new InputError("l0", `${latents.length} values are not whole rows of ${latentCount} latents`);
  }
  let active = 0;
  for (let i = 0; i < latents.length; i++) if (latents[i] > 0) active++;
  return active / (latents.length / latentCount);
}
