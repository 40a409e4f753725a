// The synthetic test of the linear/nonlinear split (paper §3.7, v1 §4.1, Figure 15 and Table 1): does the regression
// test attribute noise in the *activation* to "linear error" and noise the *SAE introduces* to "nonlinear error"?
//
// There are no random features: the "true" activations are an SAE's own outputs, x := Sae(acts) = f(acts)·W_dec +
// b_dec, which are exactly sparse-linear. For each configuration (p % ablated, σ_a, σ_r):
//   * ablation: latents ranked by mean activation over all tokens (zeros included); the lowest ⌊latents·p/100⌋ are
//     zeroed in the codes the "SAE" reconstructs from (ties: lower latent id first);
//   * x' = x + σ_a·u·ε₁ (activation noise, standing in for Dense(x) and other linear terms);
//   * r = decode(encode(x) ⊙ mask) + σ_r·u·ε₂ (reconstruction noise), encode() applied to the clean x;
//   * OLS from x' to error = x' − r on all tokens in-sample, no bias (forced in the paper: 50k rows leave no test set);
//   * FVU_recon = 1 − r2_flat(x', r), FVU_lin = 1 − r2_flat(x', r + x'b*) (the scalar-mean R² of this experiment only);
//   * estimated linear error = FVU_recon − FVU_lin, estimated nonlinear error = FVU_lin.
// ε ~ N(0, I) i.i.d. per entry, so σ is a standard deviation (the paper's plots label it "Noise Var"; spec §5.8).
//
// Noise scale u. The paper's σ ∈ {0…4} are absolute on Gemma 2 9B layer-20 residuals, whose per-dimension std is
// "a few units"; on another model the spec says to rescale relative to the per-dimension std of x. By default
// u = std(x)/4, with std(x) the root mean per-dimension variance of x over the tokens used, so the paper's labels are
// kept and σ = 4 is one per-dimension std. `noiseUnit: "std"` makes σ count stds; a number makes the noise absolute
// (1 = the paper's literal values on Gemma 2 9B).
//
// The noise is common across configurations (one ε₁ and one ε₂ field, scaled by σ), generated per block of 256 rows
// from the seed, so a configuration's numbers do not depend on chunk sizes or on which other configurations run, and
// the grid's cells differ only by σ (smoother correlations). Everything streams: two passes per configuration
// (fit, evaluate), rebuilding x and r from the codes, so memory is O(d² + chunk·d) for any number of tokens.
import { InputError } from "../errors";
import { Progress } from "../progress";
import { NormalEquations, predict } from "../linalg/least-squares";
import { RegressionAccumulator } from "../linalg/metrics";
import { deriveSeed, uniform53 } from "../linalg/random";
import { RowChunk } from "../linalg/rows";
import { warningSink } from "./decomposition";
import { pearson, SparseLatents } from "./probe-vs-latent";

export interface SyntheticInput {
  /** W_dec, row-major [latents, d]. */
  decoder: RowChunk;
  latents: number;
  d: number;
  /** b_dec [d]; absent or null = zeros. */
  bias?: ArrayLike<number> | null;
  /** f(acts) per token (CSR): builds x := f(acts)·W_dec + b_dec = Sae(acts). */
  codes: SparseLatents;
  /**
   * encode(x) per token for the clean x, when the caller ran the SAE's encoder on x (the paper does). Default: `codes`
   * themselves, i.e. the SAE taken to be exactly the identity on its own image.
   */
  encoded?: SparseLatents;
}

/** One configuration of the experiment. σ values are in units of `noiseUnit` (see the file comment). */
export interface SyntheticConfig {
  ablatedPercent: number;
  sigmaActivation: number;
  sigmaReconstruction: number;
}

export interface SyntheticOptions {
  /** Use the first this many tokens (default 50,000, the paper's). */
  maxTokens?: number;
  /** The scale u of σ: a number (absolute), "std" (σ in per-dim stds of x), or default "paper" = std(x)/4. */
  noiseUnit?: number | "std" | "paper";
  /** Seed of ε₁ and ε₂ (default 0). */
  seed?: number;
  /** Intercept in the OLS (default false, the paper's). */
  intercept?: boolean;
  /** Rows per chunk (default 4096; rounded up to a multiple of 256). */
  rowsPerChunk?: number;
  rankTolerance?: number;
  native?: boolean;
  onWarning?: (message: string) => void;
  progress?: Progress;
}

export interface SyntheticExperimentOptions extends SyntheticOptions {
  /** Ablation levels of the line panels (default 0, 10, …, 50 %). */
  ablatedPercents?: number[];
  /** (σ_a, σ_r) of the line panels (default (1, 0.6) and (0.6, 1), the paper's). */
  linePanels?: [number, number][];
  /** σ_a = σ_r levels of the heatmap grid (default 0, 1, 2, 3, 4, the paper's). */
  gridLevels?: number[];
  /** Ablation of the grid (default 0 %). */
  gridAblatedPercent?: number;
}

export interface SyntheticPoint extends SyntheticConfig {
  /** ⌊latents·p/100⌋ */
  ablatedLatents: number;
  /** 1 − r2_flat(x', r) */
  fvuRecon: number;
  /** 1 − r2_flat(x', r + x'b*) */
  fvuLinear: number;
  /** fvuRecon − fvuLinear */
  estimatedLinearError: number;
  /** fvuLinear */
  estimatedNonlinearError: number;
}

/** Pearson correlations over grid cells: rows σ_a, σ_r; columns estimated linear, estimated nonlinear error (Table 1). */
export interface NoiseCorrelationTable {
  rows: ["sigmaActivation", "sigmaReconstruction"];
  columns: ["estimatedLinearError", "estimatedNonlinearError"];
  /** values[i][j] = pearson(rows[i], columns[j]) over the cells. */
  values: [[number, number], [number, number]];
}

export interface SyntheticSetup {
  tokens: number;
  d: number;
  latents: number;
  intercept: boolean;
  seed: number;
  /** Root mean per-dimension variance of the clean x: √(Σ_j Var_j(x) / d). */
  stdX: number;
  /** u: noise std = σ·u. */
  noiseUnit: number;
  /** Mean activation per latent over the tokens (zeros included), from the codes the SAE reconstructs from. */
  meanActivation: Float64Array;
  /** Latents in ablation order (ascending mean activation, ties by id). */
  ablationOrder: Int32Array;
  warnings: string[];
}

export interface SyntheticExperimentResult extends SyntheticSetup {
  /** The line panels: FVU_recon and FVU_lin against % ablated, one panel per (σ_a, σ_r). */
  lines: { sigmaActivation: number; sigmaReconstruction: number; points: SyntheticPoint[] }[];
  /** The heatmaps at `ablatedPercent`: [i][j] for σ_a = levels[i] (rows), σ_r = levels[j] (columns). */
  grid: {
    levels: number[];
    ablatedPercent: number;
    estimatedLinearError: number[][];
    estimatedNonlinearError: number[][];
    points: SyntheticPoint[];
  };
  correlation: NoiseCorrelationTable;
}

const NOISE_BLOCK = 256;
const PAPER_STD_UNITS = 4;

function checkCsr(latents: SparseLatents, latentCount: number, name: string): number {
  const { rowPtr, indices, values } = latents ?? ({} as SparseLatents);
  if (!rowPtr || !indices || !values) throw new InputError(name, "needs rowPtr, indices and values");
  if (rowPtr.length < 2) throw new InputError(`${name}.rowPtr`, "needs at least 2 entries (one token)");
  const rows = rowPtr.length - 1;
  if (rowPtr[0] !== 0) throw new InputError(`${name}.rowPtr`, `must start at 0, starts at ${rowPtr[0]}`);
  for (let t = 0; t < rows; t++) {
    if (!Number.isSafeInteger(rowPtr[t + 1]) || rowPtr[t + 1] < rowPtr[t]) throw new InputError(`${name}.rowPtr`, `decreases or is not an integer at token ${t}`);
  }
  if (rowPtr[rows] !== indices.length || indices.length !== values.length) {
    throw new InputError(name, `rowPtr ends at ${rowPtr[rows]} but there are ${indices.length} indices and ${values.length} values`);
  }
  for (let e = 0; e < indices.length; e++) {
    const i = indices[e];
    if (!Number.isSafeInteger(i) || i < 0 || i >= latentCount) throw new InputError(`${name}.indices`, `entry ${e}: ${i} is not a latent in 0..${latentCount - 1}`);
    if (!Number.isFinite(values[e])) throw new InputError(`${name}.values`, `entry ${e} is not finite`);
  }
  return rows;
}

/** Validated input, with the token count used and the codes the SAE reconstructs from. */
interface Prepared {
  input: SyntheticInput;
  tokens: number;
  encoded: SparseLatents;
  bias: Float64Array;
}

function prepare(input: SyntheticInput, maxTokens: number): Prepared {
  const { decoder, latents, d } = input;
  if (!Number.isSafeInteger(latents) || latents < 1) throw new InputError("latents", `must be a positive integer, got ${latents}`);
  if (!Number.isSafeInteger(d) || d < 1) throw new InputError("d", `must be a positive integer, got ${d}`);
  if (!decoder || decoder.length !== latents * d) throw new InputError("decoder", `has ${decoder?.length} values; latents ${latents} × d ${d} = ${latents * d} expected`);
  for (let i = 0; i < decoder.length; i++) if (!Number.isFinite(decoder[i])) throw new InputError("decoder", `entry ${i} is not finite`);
  const bias = new Float64Array(d);
  if (input.bias) {
    if (input.bias.length !== d) throw new InputError("bias", `has ${input.bias.length} values, d = ${d}`);
    for (let j = 0; j < d; j++) {
      if (!Number.isFinite(input.bias[j])) throw new InputError("bias", `entry ${j} is not finite`);
      bias[j] = input.bias[j];
    }
  }
  const rows = checkCsr(input.codes, latents, "codes");
  const encoded = input.encoded ?? input.codes;
  if (input.encoded) {
    const er = checkCsr(input.encoded, latents, "encoded");
    if (er !== rows) throw new InputError("encoded", `covers ${er} tokens, codes cover ${rows}`);
  }
  if (!Number.isSafeInteger(maxTokens) || maxTokens < 1) throw new InputError("maxTokens", `must be a positive integer, got ${maxTokens}`);
  const tokens = Math.min(rows, maxTokens);
  if (tokens < 2) throw new InputError("codes", "the experiment needs at least 2 tokens");
  return { input, tokens, encoded, bias };
}

/** Σ_e values[e]·W_dec[indices[e]] + b_dec for tokens [start, start + rows), skipping latents where `drop` is set. */
function decodeRows(p: Prepared, codes: SparseLatents, start: number, rows: number, drop: Uint8Array | null): Float64Array {
  const { decoder, d } = p.input;
  const out = new Float64Array(rows * d);
  for (let t = 0; t < rows; t++) {
    const o = t * d;
    out.set(p.bias, o);
    for (let e = codes.rowPtr[start + t]; e < codes.rowPtr[start + t + 1]; e++) {
      const i = codes.indices[e];
      if (drop && drop[i]) continue;
      const v = codes.values[e], r = i * d;
      for (let j = 0; j < d; j++) out[o + j] += v * decoder[r + j];
    }
  }
  return out;
}

/** Standard normals for rows [start, start + rows) of one noise field (start a multiple of NOISE_BLOCK). */
function noiseRows(seed: number, field: number, start: number, rows: number, d: number): Float64Array {
  const out = new Float64Array(rows * d);
  for (let b0 = 0; b0 < rows; b0 += NOISE_BLOCK) {
    const block = (start + b0) / NOISE_BLOCK;
    const u = uniform53(deriveSeed(deriveSeed(seed, field), block));
    const end = Math.min(rows, b0 + NOISE_BLOCK) * d;
    for (let i = b0 * d; i < end; i += 2) {
      // Box–Muller: two normals per pair of uniforms (1 − u keeps the log finite).
      const r = Math.sqrt(-2 * Math.log(1 - u())), a = 2 * Math.PI * u();
      out[i] = r * Math.cos(a);
      if (i + 1 < end) out[i + 1] = r * Math.sin(a);
    }
  }
  return out;
}

function chunkRows(options: SyntheticOptions): number {
  const want = options.rowsPerChunk ?? 4096;
  if (!Number.isSafeInteger(want) || want < 1) throw new InputError("rowsPerChunk", `must be a positive integer, got ${want}`);
  return Math.ceil(want / NOISE_BLOCK) * NOISE_BLOCK;
}

function setup(p: Prepared, options: SyntheticOptions, warnings: string[]): SyntheticSetup {
  const { d, latents } = p.input, n = p.tokens, chunk = chunkRows(options);
  // Per-dimension variance of the clean x (Chan's merge over chunks).
  const mean = new Float64Array(d), m2 = new Float64Array(d);
  let seen = 0;
  for (let start = 0; start < n; start += chunk) {
    const rows = Math.min(chunk, n - start);
    const x = decodeRows(p, p.input.codes, start, rows, null);
    const cm = new Float64Array(d), cm2 = new Float64Array(d);
    for (let t = 0; t < rows; t++) for (let j = 0; j < d; j++) cm[j] += x[t * d + j];
    for (let j = 0; j < d; j++) cm[j] /= rows;
    for (let t = 0; t < rows; t++) for (let j = 0; j < d; j++) cm2[j] += (x[t * d + j] - cm[j]) ** 2;
    const total = seen + rows;
    for (let j = 0; j < d; j++) {
      const delta = cm[j] - mean[j];
      mean[j] += (delta * rows) / total;
      m2[j] += cm2[j] + (delta * delta * seen * rows) / total;
    }
    seen = total;
  }
  let variance = 0;
  for (let j = 0; j < d; j++) variance += m2[j] / n;
  const stdX = Math.sqrt(variance / d);
  const unitOption = options.noiseUnit ?? "paper";
  let noiseUnit: number;
  if (typeof unitOption === "number") {
    if (!(unitOption > 0 && Number.isFinite(unitOption))) throw new InputError("noiseUnit", `must be a positive number, "std" or "paper", got ${unitOption}`);
    noiseUnit = unitOption;
  } else if (unitOption === "std" || unitOption === "paper") {
    if (!(stdX > 0)) throw new InputError("codes", "x = Sae(acts) is constant over the tokens, so a noise scale relative to its std is undefined; pass noiseUnit as a number");
    noiseUnit = unitOption === "std" ? stdX : stdX / PAPER_STD_UNITS;
  } else {
    throw new InputError("noiseUnit", `must be a positive number, "std" or "paper", got ${String(unitOption)}`);
  }

  const meanActivation = new Float64Array(latents);
  const enc = p.encoded;
  for (let e = 0; e < enc.rowPtr[n]; e++) meanActivation[enc.indices[e]] += enc.values[e];
  for (let i = 0; i < latents; i++) meanActivation[i] /= n;
  const ablationOrder = Int32Array.from({ length: latents }, (_, i) => i)
    .sort((a, b) => meanActivation[a] - meanActivation[b] || a - b);
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed)) throw new InputError("seed", `must be an integer, got ${seed}`);
  const intercept = options.intercept ?? false;
  if (n < d + (intercept ? 1 : 0)) throw new InputError("codes", `${n} tokens cannot determine b* for d = ${d}`);
  return {
    tokens: n, d, latents, intercept, seed, stdX, noiseUnit, meanActivation, ablationOrder, warnings,
  };
}

function checkConfig(c: SyntheticConfig): void {
  if (!(c.ablatedPercent >= 0 && c.ablatedPercent <= 100)) throw new InputError("ablatedPercent", `must lie in [0, 100], got ${c.ablatedPercent}`);
  for (const [name, v] of [["sigmaActivation", c.sigmaActivation], ["sigmaReconstruction", c.sigmaReconstruction]] as const) {
    if (!(v >= 0 && Number.isFinite(v))) throw new InputError(name, `must be a finite non-negative number, got ${v}`);
  }
}

/** x' and r for one chunk of one configuration. */
function chunkData(p: Prepared, s: SyntheticSetup, c: SyntheticConfig, drop: Uint8Array, start: number, rows: number) {
  const d = s.d;
  const xp = decodeRows(p, p.input.codes, start, rows, null);
  const r = decodeRows(p, p.encoded, start, rows, drop);
  const sa = c.sigmaActivation * s.noiseUnit, sr = c.sigmaReconstruction * s.noiseUnit;
  if (sa > 0) { const e = noiseRows(s.seed, 0, start, rows, d); for (let i = 0; i < xp.length; i++) xp[i] += sa * e[i]; }
  if (sr > 0) { const e = noiseRows(s.seed, 1, start, rows, d); for (let i = 0; i < r.length; i++) r[i] += sr * e[i]; }
  return { xp, r };
}

function runConfig(p: Prepared, s: SyntheticSetup, c: SyntheticConfig, options: SyntheticOptions,
  warn: (m: string) => void, tick: (rows: number) => void): SyntheticPoint {
  checkConfig(c);
  const d = s.d, n = s.tokens, chunk = chunkRows(options), native = options.native;
  const ablatedLatents = Math.floor((s.latents * c.ablatedPercent) / 100);
  const drop = new Uint8Array(s.latents);
  for (let k = 0; k < ablatedLatents; k++) drop[s.ablationOrder[k]] = 1;
  const label = `p=${c.ablatedPercent}%, σa=${c.sigmaActivation}, σr=${c.sigmaReconstruction}`;

  const ne = new NormalEquations(d, d, { native });
  for (let start = 0; start < n; start += chunk) {
    const rows = Math.min(chunk, n - start);
    const { xp, r } = chunkData(p, s, c, drop, start, rows);
    const err = new Float64Array(rows * d);
    for (let i = 0; i < err.length; i++) err[i] = xp[i] - r[i];
    ne.add(xp, err, rows);
    tick(rows);
  }
  const fit = ne.solve({ intercept: s.intercept, rankTolerance: options.rankTolerance, onWarning: (m) => warn(`${label}: ${m}`) });
  const recon = new RegressionAccumulator(d, { native }), lin = new RegressionAccumulator(d, { native });
  for (let start = 0; start < n; start += chunk) {
    const rows = Math.min(chunk, n - start);
    const { xp, r } = chunkData(p, s, c, drop, start, rows);
    const pred = predict(fit, xp, rows, { native });
    for (let i = 0; i < pred.length; i++) pred[i] += r[i];
    recon.add(xp, r, rows);
    lin.add(xp, pred, rows);
    tick(rows);
  }
  const fvuRecon = 1 - recon.result().r2Flat, fvuLinear = 1 - lin.result().r2Flat;
  return {
    ...c, ablatedLatents, fvuRecon, fvuLinear,
    estimatedLinearError: fvuRecon - fvuLinear, estimatedNonlinearError: fvuLinear,
  };
}

/** Runs the given configurations on one shared setup (noise unit, ablation order). */
export function syntheticPoints(input: SyntheticInput, configs: readonly SyntheticConfig[], options: SyntheticOptions = {}):
  SyntheticSetup & { points: SyntheticPoint[] } {
  const p = prepare(input, options.maxTokens ?? 50_000);
  const { warnings, warn } = warningSink(options);
  const s = setup(p, options, warnings);
  configs.forEach(checkConfig);
  const total = 2 * configs.length * s.tokens;
  let done = 0;
  const points: SyntheticPoint[] = [];
  for (const c of configs) {
    points.push(runConfig(p, s, c, options, warn, (rows) => { done += rows; options.progress?.(done, total, "synthetic test"); }));
  }
  return { ...s, points };
}

/** Table 1: Pearson correlations over the cells between the true noise levels and the estimated error shares. */
export function noiseCorrelationTable(points: readonly SyntheticPoint[]): NoiseCorrelationTable {
  if (points.length < 2) throw new InputError("points", `correlations need at least 2 configurations, got ${points.length}`);
  const col = (f: (q: SyntheticPoint) => number) => points.map(f);
  const sa = col((q) => q.sigmaActivation), sr = col((q) => q.sigmaReconstruction);
  const lin = col((q) => q.estimatedLinearError), nl = col((q) => q.estimatedNonlinearError);
  return {
    rows: ["sigmaActivation", "sigmaReconstruction"],
    columns: ["estimatedLinearError", "estimatedNonlinearError"],
    values: [[pearson(sa, lin), pearson(sa, nl)], [pearson(sr, lin), pearson(sr, nl)]],
  };
}

/** The whole §3.7 experiment: the line panels over % ablated, the σ_a × σ_r grid and the Table 1 correlations. */
export function syntheticExperiment(input: SyntheticInput, options: SyntheticExperimentOptions = {}): SyntheticExperimentResult {
  const percents = options.ablatedPercents ?? [0, 10, 20, 30, 40, 50];
  const panels = options.linePanels ?? [[1, 0.6], [0.6, 1]];
  const levels = options.gridLevels ?? [0, 1, 2, 3, 4];
  const gridPercent = options.gridAblatedPercent ?? 0;
  if (levels.length < 2) throw new InputError("gridLevels", "needs at least 2 levels for the correlations");
  const configs: SyntheticConfig[] = [];
  for (const [sa, sr] of panels) for (const p of percents) configs.push({ ablatedPercent: p, sigmaActivation: sa, sigmaReconstruction: sr });
  const gridStart = configs.length;
  for (const sa of levels) for (const sr of levels) configs.push({ ablatedPercent: gridPercent, sigmaActivation: sa, sigmaReconstruction: sr });
  const { points, ...s } = syntheticPoints(input, configs, options);
  const lines = panels.map(([sa, sr], k) => ({
    sigmaActivation: sa, sigmaReconstruction: sr, points: points.slice(k * percents.length, (k + 1) * percents.length),
  }));
  const cells = points.slice(gridStart);
  const L = levels.length;
  const table = (f: (q: SyntheticPoint) => number) => levels.map((_, i) => levels.map((__, j) => f(cells[i * L + j])));
  return {
    ...s, lines,
    grid: {
      levels: [...levels], ablatedPercent: gridPercent,
      estimatedLinearError: table((q) => q.estimatedLinearError),
      estimatedNonlinearError: table((q) => q.estimatedNonlinearError),
      points: cells,
    },
    correlation: noiseCorrelationTable(cells),
  };
}
