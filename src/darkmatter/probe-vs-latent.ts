// Why norms are linear (paper §3.6): fit a* from z = Sae(x) − b_dec = f(x)·W_dec to ‖z‖², then compare, per
// latent i, the probe's value on its decoder row, a*·d_i, with the latent's mean activation when active. If ‖z‖²
// ≈ Σ_i c_i f_i with c_i ≈ the typical magnitude of latent i, the two track each other.
import { InputError } from "../errors";
import { bootstrapPlan, BootstrapOptions, MultinomialResampler } from "../linalg/bootstrap";
import { LeastSquaresFit, NormalEquations, predict } from "../linalg/least-squares";
import { RegressionAccumulator } from "../linalg/metrics";
import { RowChunk } from "../linalg/rows";
import { NO_ROLE, TEST, TRAIN } from "../linalg/split";
import { countRoles, Estimate, resolveRoles, rowSquaredNorms, SplitChoice } from "./common";
import { warningSink } from "./decomposition";

/** Sparse latent activations f(x) per token in CSR form: token t's latents are indices[rowPtr[t] … rowPtr[t+1]). */
export interface SparseLatents {
  rowPtr: ArrayLike<number>;
  indices: ArrayLike<number>;
  values: ArrayLike<number>;
}

export interface ProbeInput {
  /** W_dec, row-major [latentCount, d]. */
  decoder: RowChunk;
  d: number;
  latents: SparseLatents;
}

export interface ProbeOptions extends SplitChoice {
  /** Intercept in the probe (default false: the paper fits z → ‖z‖² without one, and ‖0‖² = 0). */
  intercept?: boolean;
  bootstrap?: BootstrapOptions | false;
  rowsPerChunk?: number;
  rankTolerance?: number;
  onWarning?: (message: string) => void;
  native?: boolean;
}

export interface ProbeVsLatentResult {
  intercept: boolean;
  d: number;
  latentCount: number;
  rows: { total: number; train: number; evaluated: number; seed: number };
  /** Test `r2` of the probe z → ‖z‖². */
  probeR2: Estimate;
  /** Latents that fire at least once, sorted by mean active value, descending (the paper's x-axis order). */
  latents: Int32Array;
  /** Mean of f_i over the tokens where f_i > 0 (all tokens, not just the training rows), in `latents` order. */
  meanActive: Float64Array;
  /** a*·d_i, in `latents` order. */
  probe: Float64Array;
  /** Tokens on which each latent is active, in `latents` order. */
  activeCount: Float64Array;
  /** Pearson correlation of `probe` and `meanActive` over the active latents. */
  correlation: number;
  probeFit: LeastSquaresFit;
  bootstrap: { resamples: number; seed: number; level: number } | null;
  warnings: string[];
}

function checkCsr(latents: SparseLatents, latentCount: number): number {
  const { rowPtr, indices, values } = latents;
  if (rowPtr.length < 2) throw new InputError("latents.rowPtr", "needs at least 2 entries (one token)");
  const rows = rowPtr.length - 1;
  if (rowPtr[0] !== 0) throw new InputError("latents.rowPtr", `must start at 0, starts at ${rowPtr[0]}`);
  for (let t = 0; t < rows; t++) {
    if (!Number.isSafeInteger(rowPtr[t + 1]) || rowPtr[t + 1] < rowPtr[t]) throw new InputError("latents.rowPtr", `decreases or is not an integer at token ${t}`);
  }
  if (rowPtr[rows] !== indices.length || indices.length !== values.length) {
    throw new InputError("latents", `rowPtr ends at ${rowPtr[rows]} but there are ${indices.length} indices and ${values.length} values`);
  }
  for (let e = 0; e < indices.length; e++) {
    const i = indices[e];
    if (!Number.isSafeInteger(i) || i < 0 || i >= latentCount) throw new InputError("latents.indices", `entry ${e}: ${i} is not a latent in 0..${latentCount - 1}`);
    if (!Number.isFinite(values[e])) throw new InputError("latents.values", `entry ${e} is not finite`);
  }
  return rows;
}

/** z = f·W_dec for tokens [start, start + count) as float64 [count, d]. */
function decode(input: ProbeInput, start: number, count: number): Float64Array {
  const { decoder, d, latents } = input;
  const z = new Float64Array(count * d);
  for (let t = 0; t < count; t++) {
    for (let e = latents.rowPtr[start + t]; e < latents.rowPtr[start + t + 1]; e++) {
      const v = latents.values[e], o = latents.indices[e] * d;
      if (v === 0) continue;
      for (let j = 0; j < d; j++) z[t * d + j] += v * decoder[o + j];
    }
  }
  return z;
}

/** Runs the §3.6 comparison of the norm probe on decoder rows with each latent's mean active value. */
export function probeVsLatent(input: ProbeInput, options: ProbeOptions = {}): ProbeVsLatentResult {
  const { decoder, d } = input;
  if (!Number.isSafeInteger(d) || d < 1) throw new InputError("d", `must be a positive integer, got ${d}`);
  if (decoder.length === 0 || decoder.length % d !== 0) throw new InputError("decoder", `${decoder.length} values are not whole rows of d = ${d}`);
  const latentCount = decoder.length / d;
  for (let i = 0; i < decoder.length; i++) if (!Number.isFinite(decoder[i])) throw new InputError("decoder", `entry ${i} is not finite`);
  const n = checkCsr(input.latents, latentCount);
  const intercept = options.intercept ?? false;
  const { roles, seed } = resolveRoles(n, options);
  if (countRoles(roles).train < d + (intercept ? 1 : 0)) throw new InputError("trainRows", `too few training rows for d = ${d}`);
  const rowsPerChunk = Math.max(1, options.rowsPerChunk ?? 2048), native = options.native;
  const { warnings, warn } = warningSink(options);

  const trainRows = (start: number, count: number) => {
    const out: number[] = [];
    for (let t = 0; t < count; t++) if (roles[start + t] === TRAIN) out.push(t);
    return out;
  };
  const ne = new NormalEquations(d, 1, { native });
  for (let start = 0; start < n; start += rowsPerChunk) {
    const count = Math.min(rowsPerChunk, n - start);
    const use = trainRows(start, count);
    if (use.length === 0) continue;
    const z = decode(input, start, count);
    ne.add(z, rowSquaredNorms(z, count, d), count, use);
  }
  const probeFit = ne.solve({ intercept, rankTolerance: options.rankTolerance, onWarning: warn });

  let evalRows = 0;
  for (const r of roles) if (r === TEST) evalRows++;
  const plan = bootstrapPlan(options.bootstrap);
  const resampler = plan ? new MultinomialResampler(evalRows, plan.resamples, plan.seed) : null;
  const acc = new RegressionAccumulator(1, { native, bootstrap: plan ? { resamples: plan.resamples, level: plan.level, perDim: true } : undefined });
  for (let start = 0; start < n; start += rowsPerChunk) {
    const count = Math.min(rowsPerChunk, n - start);
    const ids: number[] = [];
    for (let t = 0; t < count; t++) if (roles[start + t] === TEST) ids.push(t);
    if (ids.length === 0) continue;
    const z = decode(input, start, count);
    const zs = new Float64Array(ids.length * d);
    ids.forEach((t, i) => zs.set(z.subarray(t * d, t * d + d), i * d));
    acc.add(rowSquaredNorms(zs, ids.length, d), predict(probeFit, zs, ids.length, { native }), ids.length,
      resampler ? resampler.next(ids.length) : undefined);
  }
  const res = acc.result();

  // Per-latent statistics over all tokens with a role (NO_ROLE only arises from a capped test set).
  const sum = new Float64Array(latentCount), count = new Float64Array(latentCount);
  const { rowPtr, indices, values } = input.latents;
  for (let t = 0; t < n; t++) {
    if (roles[t] === NO_ROLE) continue;
    for (let e = rowPtr[t]; e < rowPtr[t + 1]; e++) if (values[e] > 0) { sum[indices[e]] += values[e]; count[indices[e]]++; }
  }
  const active: number[] = [];
  for (let i = 0; i < latentCount; i++) if (count[i] > 0) active.push(i);
  const mean = (i: number) => sum[i] / count[i];
  active.sort((a, b) => mean(b) - mean(a) || a - b);
  const a = probeFit.coefficients;
  const probeValue = (i: number) => { let s = 0; for (let j = 0; j < d; j++) s += a[j] * decoder[i * d + j]; return s; };
  const latents = Int32Array.from(active);
  const meanActive = Float64Array.from(active, mean);
  const probe = Float64Array.from(active, probeValue);
  return {
    intercept, d, latentCount,
    rows: { total: n, train: probeFit.rows, evaluated: evalRows, seed },
    probeR2: { value: res.r2 as number, interval: res.intervals?.r2 ?? null },
    latents, meanActive, probe, activeCount: Float64Array.from(active, (i) => count[i]),
    correlation: pearson(probe, meanActive),
    probeFit, bootstrap: plan, warnings,
  };
}

/** Pearson correlation of two equally long series (NaN for fewer than 2 points or a constant series). */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  if (n !== b.length) throw new InputError("pearson", `series have ${n} and ${b.length} values`);
  if (n < 2) return NaN;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) { ma += a[i]; mb += b[i]; }
  ma /= n; mb /= n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) { const da = a[i] - ma, db = b[i] - mb; sab += da * db; saa += da * da; sbb += db * db; }
  return sab / Math.sqrt(saa * sbb);
}

/** Running mean over a window of `window` consecutive values ("valid" positions only: length n − window + 1). */
export function runningMean(values: ArrayLike<number>, window: number): Float64Array {
  if (!Number.isSafeInteger(window) || window < 1) throw new InputError("window", `must be a positive integer, got ${window}`);
  const n = values.length;
  if (n < window) return new Float64Array(0);
  const out = new Float64Array(n - window + 1);
  let s = 0;
  for (let i = 0; i < window; i++) s += values[i];
  out[0] = s / window;
  for (let i = window; i < n; i++) { s += values[i] - values[i - window]; out[i - window + 1] = s / window; }
  return out;
}
