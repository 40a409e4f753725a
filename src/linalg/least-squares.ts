// Streaming ordinary least squares (paper §2.5: "accumulate XᵀX and XᵀY in fp64 and solve").
//
// Rows arrive in float32 chunks; each chunk is converted once to float64, shifted by a per-column reference (the
// first chunk's means), and folded into XᵀX (dsyrk), XᵀY (dgemm) and the column sums. Memory is O(d² + d·p) for any
// number of rows. Shifting keeps the sums small, so the centred Gram Σ(x − x̄)(x − x̄)ᵀ = G_s − u uᵀ/n loses nothing
// to cancellation even on residual-stream dimensions whose mean is far larger than their spread; the raw Gram
// needed without an intercept is rebuilt exactly from the same shifted sums, so one pass serves both variants.
//
// Solving: the Gram is equilibrated to unit diagonal (residual streams have a few dimensions with ~100× the spread
// of the rest, which alone puts the condition number past 1e6; scaling removes that part), then factored by
// Cholesky. Pivot k of the scaled factor is the share of column k's variance left unexplained by the columns
// before it; if one falls below `rankTolerance` (or the factorisation fails) the problem is rank deficient: the
// dependent columns are located, reported through `warnings`/`onWarning`, and given coefficient 0 (a basic
// least-squares solution; the fitted values remain the least-squares projection).
import { InputError } from "../errors";
import { formatNumber, withSummary } from "../inspect";
import { bootstrapPlan, BootstrapOptions, MultinomialResampler } from "./bootstrap";
import { choleskyInPlace, solveWithFactor } from "./cholesky";
import { getKernels, Kernels } from "./kernels";
import { RegressionAccumulator, RegressionMetrics } from "./metrics";
import { RowChunk, RowSource, rowIsFinite, zipChunks } from "./rows";
import { RowSelection, selectedCount } from "./split";

/** A fitted linear map ŷ = x·coefficients (+ intercept). */
export interface LeastSquaresFit {
  /** d: input columns. */
  inputs: number;
  /** p: output columns. */
  outputs: number;
  /** Row-major [inputs, outputs]. */
  coefficients: Float64Array;
  /** [outputs], or null for a fit without intercept. */
  intercept: Float64Array | null;
  /** Rows the fit used. */
  rows: number;
  /** Rows skipped because they held NaN or ±Inf (only with `dropNonFinite`). */
  droppedNonFinite: number;
  /** Numerical rank of the (centred, with an intercept) design. */
  rank: number;
  /** Input columns that are constant or linear combinations of earlier columns; their coefficients are 0. */
  dependentColumns: number[];
  /** (max/min Cholesky pivot)² of the equilibrated Gram: a lower estimate of its condition number. */
  conditionEstimate: number;
  /** Everything the caller should know about the solve (rank deficiency, conditioning). Empty when clean. */
  warnings: string[];
}

export interface SolveOptions {
  /** Fit an intercept (default true). */
  intercept?: boolean;
  /** A column whose unexplained variance share (scaled pivot) is below this counts as dependent (default 1e-10). */
  rankTolerance?: number;
  /** Called with each warning as it arises (they are also returned in `warnings`). */
  onWarning?: (message: string) => void;
}

const MAX_ELEMENTS = 2 ** 29; // per Gram/cross-product array: 4 GiB of float64

function checkSizes(d: number, p: number, what: string): void {
  if (!Number.isSafeInteger(d) || d < 1 || !Number.isSafeInteger(p) || p < 1) throw new InputError(what, `bad sizes ${d}×${p}`);
  if (d * d > MAX_ELEMENTS || d * p > MAX_ELEMENTS) {
    throw new InputError(what, `${d} inputs × ${p} outputs need more than 4 GiB per normal-equation matrix`);
  }
}

/**
 * The x side of the normal equations: the row count, the shift, Σ(x − s) and the Gram Σ(x − s)(x − s)ᵀ. Fits of
 * several targets on the same rows (the SAEs of a family on one set of activations) share one: it is accumulated
 * once, and each NormalEquations built on it then costs only its XᵀY.
 */
export class InputGram {
  n = 0;
  shiftX: Float64Array | null = null;
  readonly sumX: Float64Array; // Σ (x − shiftX)
  readonly gxx: Float64Array; // upper triangle of Σ (x − sx)(x − sx)ᵀ
  private buf = new Float64Array(0);
  readonly kernels: Kernels;

  constructor(readonly inputs: number, options: { native?: boolean } = {}) {
    checkSizes(inputs, 1, "least squares");
    this.sumX = new Float64Array(inputs);
    this.gxx = new Float64Array(inputs * inputs);
    this.kernels = getKernels(options.native ?? true);
  }

  /** Adds rows of x [rows, inputs] (all, or the chunk-local `rowIndices`). */
  add(x: RowChunk, rows: number, rowIndices?: ArrayLike<number>): void {
    if (x.length !== rows * this.inputs) throw new InputError("least squares", `expected ${rows}×${this.inputs} inputs, got ${x.length} values`);
    this.shifted(x, rows, rowIndices, true);
  }

  /**
   * The selected rows minus the shift (set from the first rows ever seen), as float64 [k, inputs] in a reused
   * buffer; with `accumulate`, also folded into the count, the sums and the Gram.
   */
  shifted(x: RowChunk, rows: number, rowIndices: ArrayLike<number> | undefined, accumulate: boolean, sums = this.sumX): Float64Array {
    const d = this.inputs, k = rowIndices ? rowIndices.length : rows;
    if (!this.shiftX) {
      if (!accumulate) throw new Error("least squares: a shared InputGram must be filled before the fits that use it");
      this.shiftX = new Float64Array(d);
      for (let t = 0; t < k; t++) {
        const r = rowIndices ? rowIndices[t] : t;
        for (let j = 0; j < d; j++) this.shiftX[j] += x[r * d + j];
      }
      for (let j = 0; j < d; j++) this.shiftX[j] /= k;
    }
    if (this.buf.length < k * d) this.buf = new Float64Array(k * d);
    const bx = this.buf, sx = this.shiftX;
    for (let t = 0; t < k; t++) {
      const r = rowIndices ? rowIndices[t] : t;
      const ox = r * d, tx = t * d;
      for (let j = 0; j < d; j++) { const v = x[ox + j] - sx[j]; bx[tx + j] = v; sums[j] += v; }
    }
    if (accumulate) {
      this.kernels.syrk(d, k, bx, this.gxx);
      this.n += k;
    }
    return bx;
  }
}

/** Streaming accumulator of the normal equations of x → y. */
export class NormalEquations {
  private n = 0;
  private shiftY: Float64Array | null = null;
  private readonly xs: InputGram;
  private readonly shared: boolean;
  /** Σ (x − shiftX) over this fit's own rows (checked against a shared Gram's before solving). */
  private readonly ownSumX: Float64Array;
  private readonly sumY: Float64Array; // Σ (y − shiftY)
  private readonly gxy: Float64Array; // Σ (x − sx)(y − sy)ᵀ
  /** Σ (y − shiftY)² per output, when asked for (`targetSquares`): with the rest, any fit's SSE on these rows. */
  private readonly sumSqY: Float64Array | null;
  private bufY = new Float64Array(0);
  private readonly kernels: Kernels;

  /** With `shared`, the x side comes from that (already filled) Gram, and `add` must see exactly its rows. */
  constructor(readonly inputs: number, readonly outputs: number, options: { native?: boolean; shared?: InputGram; targetSquares?: boolean } = {}) {
    checkSizes(inputs, outputs, "least squares");
    if (options.shared && options.shared.inputs !== inputs) throw new InputError("least squares", `the shared Gram has ${options.shared.inputs} inputs, not ${inputs}`);
    this.shared = options.shared !== undefined;
    this.xs = options.shared ?? new InputGram(inputs, options);
    this.ownSumX = this.shared ? new Float64Array(inputs) : this.xs.sumX;
    this.sumY = new Float64Array(outputs);
    this.gxy = new Float64Array(inputs * outputs);
    this.sumSqY = options.targetSquares ? new Float64Array(outputs) : null;
    this.kernels = getKernels(options.native ?? true);
  }

  /** The accumulated sums, copied: what a shard of the rows hands on to be merged (`mergeNormalEquationStates`). */
  state(): NormalEquationsState {
    if (this.shared) throw new Error("least squares: a fit on a shared Gram has no state of its own");
    const copy = (a: Float64Array | null) => (a ? Float64Array.from(a) : null);
    return {
      inputs: this.inputs, outputs: this.outputs, rows: this.n, shiftX: copy(this.shiftX), shiftY: copy(this.shiftY),
      sumX: Float64Array.from(this.sumX), sumY: Float64Array.from(this.sumY), gxx: Float64Array.from(this.gxx),
      gxy: Float64Array.from(this.gxy), sumSqY: copy(this.sumSqY),
    };
  }

  /** Normal equations holding exactly the sums of `s` (solving them equals solving the rows that made it). */
  static fromState(s: NormalEquationsState, options: { native?: boolean } = {}): NormalEquations {
    checkState(s, "least squares state");
    const ne = new NormalEquations(s.inputs, s.outputs, { native: options.native, targetSquares: s.sumSqY !== null });
    ne.n = ne.xs.n = s.rows;
    ne.xs.shiftX = s.shiftX && Float64Array.from(s.shiftX);
    ne.shiftY = s.shiftY && Float64Array.from(s.shiftY);
    ne.xs.sumX.set(s.sumX); ne.sumY.set(s.sumY); ne.xs.gxx.set(s.gxx); ne.gxy.set(s.gxy);
    if (s.sumSqY) ne.sumSqY!.set(s.sumSqY);
    return ne;
  }

  /** Rows accumulated so far. */
  get rows(): number { return this.n; }
  /** Whether the native kernels run. */
  get native(): boolean { return this.kernels.native; }
  private get shiftX(): Float64Array | null { return this.xs.shiftX; }
  private get sumX(): Float64Array { return this.xs.sumX; }
  private get gxx(): Float64Array { return this.xs.gxx; }

  /**
   * Adds rows of row-major x [rows, inputs] and y [rows, outputs]: all of them, or only the chunk-local row
   * indices in `rowIndices`.
   */
  add(x: RowChunk, y: RowChunk, rows: number, rowIndices?: ArrayLike<number>): void {
    const d = this.inputs, p = this.outputs;
    if (x.length !== rows * d || y.length !== rows * p) {
      throw new InputError("least squares", `expected ${rows}×${d} inputs and ${rows}×${p} outputs, got ${x.length} and ${y.length} values`);
    }
    const k = rowIndices ? rowIndices.length : rows;
    if (k === 0) return;
    const bx = this.xs.shifted(x, rows, rowIndices, !this.shared, this.ownSumX);
    if (!this.shiftY) {
      this.shiftY = new Float64Array(p);
      for (let t = 0; t < k; t++) {
        const r = rowIndices ? rowIndices[t] : t;
        for (let j = 0; j < p; j++) this.shiftY[j] += y[r * p + j];
      }
      for (let j = 0; j < p; j++) this.shiftY[j] /= k;
    }
    if (this.bufY.length < k * p) this.bufY = new Float64Array(k * p);
    const by = this.bufY, sy = this.shiftY;
    for (let t = 0; t < k; t++) {
      const r = rowIndices ? rowIndices[t] : t;
      const oy = r * p, ty = t * p;
      for (let j = 0; j < p; j++) { const v = y[oy + j] - sy[j]; by[ty + j] = v; this.sumY[j] += v; }
      if (this.sumSqY) for (let j = 0; j < p; j++) this.sumSqY[j] += by[ty + j] * by[ty + j];
    }
    this.kernels.gemmTN(d, p, k, bx, by, this.gxy);
    this.n += k;
  }

  /** A shared Gram must have been built on exactly this fit's rows: same count and the same column sums. */
  private checkShared(): void {
    if (!this.shared) return;
    let diff = 0, scale = 0;
    for (let j = 0; j < this.inputs; j++) { diff = Math.max(diff, Math.abs(this.ownSumX[j] - this.sumX[j])); scale += Math.abs(this.sumX[j]); }
    if (this.n !== this.xs.n || diff > 1e-9 * Math.max(1, scale)) {
      throw new InputError("least squares", `the shared Gram was built on ${this.xs.n} rows, this fit saw ${this.n} different ones; ` +
        "fit without the shared Gram");
    }
  }

  /** The normal equations G β = C: centred with an intercept, raw without (full symmetric G). */
  private system(intercept: boolean): { G: Float64Array; C: Float64Array } {
    const d = this.inputs, p = this.outputs, n = this.n;
    const sx = this.shiftX as Float64Array, sy = this.shiftY as Float64Array, ux = this.sumX, uy = this.sumY;
    const G = new Float64Array(d * d), C = new Float64Array(d * p);
    for (let i = 0; i < d; i++) {
      for (let j = i; j < d; j++) {
        // Centred: G_s − u uᵀ/n. Raw: Σ x xᵀ = G_s + s uᵀ + u sᵀ + n s sᵀ.
        const v = intercept ? this.gxx[i * d + j] - (ux[i] * ux[j]) / n
          : this.gxx[i * d + j] + sx[i] * ux[j] + ux[i] * sx[j] + n * sx[i] * sx[j];
        G[i * d + j] = v;
        G[j * d + i] = v;
      }
      for (let j = 0; j < p; j++) {
        C[i * p + j] = intercept ? this.gxy[i * p + j] - (ux[i] * uy[j]) / n
          : this.gxy[i * p + j] + sx[i] * uy[j] + ux[i] * sy[j] + n * sx[i] * sy[j];
      }
    }
    return { G, C };
  }

  /** Solves the accumulated normal equations (see the file comment for how rank deficiency is handled). */
  solve(options: SolveOptions = {}): LeastSquaresFit {
    const intercept = options.intercept ?? true;
    const tol = options.rankTolerance ?? 1e-10;
    if (!(tol >= 0 && tol < 1)) throw new InputError("rankTolerance", `must lie in [0, 1), got ${tol}`);
    const d = this.inputs, p = this.outputs, n = this.n;
    this.checkShared();
    const needed = d + (intercept ? 1 : 0);
    if (n < needed) {
      throw new InputError("rows", `${n} rows cannot determine ${d} coefficients${intercept ? " and an intercept" : ""} (need at least ${needed})`);
    }
    const warnings: string[] = [];
    const warn = (m: string): void => { warnings.push(m); options.onWarning?.(m); };

    // Equilibration D⁻¹ G D⁻¹ (unit diagonal). Constant columns (zero diagonal) become isolated unit rows with a
    // zero right-hand side, so they solve to 0 without special cases downstream.
    const scale = new Float64Array(d);
    const constant = new Uint8Array(d);
    const scaled = (): { G: Float64Array; C: Float64Array } => {
      const { G, C } = this.system(intercept);
      for (let i = 0; i < d; i++) {
        const g = G[i * d + i];
        if (g > 0 && Number.isFinite(g)) { scale[i] = Math.sqrt(g); constant[i] = 0; } else { scale[i] = 1; constant[i] = 1; }
      }
      for (let i = 0; i < d; i++) {
        for (let j = 0; j < d; j++) {
          G[i * d + j] = constant[i] || constant[j] ? (i === j ? 1 : 0) : G[i * d + j] / (scale[i] * scale[j]);
        }
        for (let j = 0; j < p; j++) C[i * p + j] = constant[i] ? 0 : C[i * p + j] / scale[i];
      }
      return { G, C };
    };

    let { G, C } = scaled();
    const constantCols: number[] = [];
    for (let i = 0; i < d; i++) if (constant[i]) constantCols.push(i);
    if (constantCols.length > 0) {
      warn(`${constantCols.length} input column(s) ${intercept ? "have zero variance" : "are all zero"} over the ${n} fitted rows ` +
        `(${listColumns(constantCols)}); they carry no information and get coefficient 0`);
    }

    let beta: Float64Array; // scaled solution [d, p]
    let dependent: number[] = [];
    let pivotMin = Infinity, pivotMax = 0;
    const info = this.kernels.cholSolve(d, p, G, C);
    let clean = info === 0;
    if (clean) {
      for (let i = 0; i < d; i++) {
        if (constant[i]) continue;
        const u = G[i * d + i];
        pivotMin = Math.min(pivotMin, u); pivotMax = Math.max(pivotMax, u);
        if (!(u * u >= tol)) clean = false;
      }
    }
    if (clean) {
      beta = C;
    } else {
      // Locate the dependent columns with the dropping Cholesky, then solve on the kept ones.
      ({ G, C } = scaled());
      const { dropped } = choleskyInPlace(d, G, tol);
      dependent = dropped;
      const droppedMask = new Uint8Array(d);
      for (const k of dropped) droppedMask[k] = 1;
      const kept: number[] = [];
      for (let i = 0; i < d; i++) if (!droppedMask[i] && !constant[i]) kept.push(i);
      pivotMin = Infinity; pivotMax = 0;
      for (const i of kept) { const u = G[i * d + i]; pivotMin = Math.min(pivotMin, u); pivotMax = Math.max(pivotMax, u); }
      if (this.kernels.native && kept.length > 0) {
        // The factor is known to exist on the kept columns; the native solve is much faster for many outputs.
        const fresh = scaled();
        const m = kept.length;
        const Gk = new Float64Array(m * m), Ck = new Float64Array(m * p);
        for (let a = 0; a < m; a++) {
          for (let b = 0; b < m; b++) Gk[a * m + b] = fresh.G[kept[a] * d + kept[b]];
          Ck.set(fresh.C.subarray(kept[a] * p, kept[a] * p + p), a * p);
        }
        const info2 = this.kernels.cholSolve(m, p, Gk, Ck);
        if (info2 !== 0) throw new Error(`least squares: Cholesky of the ${m} kept columns failed (info ${info2})`);
        beta = new Float64Array(d * p);
        for (let a = 0; a < m; a++) beta.set(Ck.subarray(a * p, a * p + p), kept[a] * p);
      } else {
        solveWithFactor(d, p, G, C, droppedMask);
        beta = C;
        for (const i of constantCols) beta.fill(0, i * p, i * p + p);
      }
      const rankNow = d - constantCols.length - dependent.length;
      warn(`XᵀX is singular to working precision: rank ${rankNow} of ${d} inputs. Column(s) ${listColumns(dependent)} are ` +
        `(within rankTolerance ${tol}) linear combinations of earlier columns and get coefficient 0; the fitted values ` +
        "are still the least-squares fit, but the coefficients are one of many equally good solutions");
    }

    const coefficients = new Float64Array(d * p);
    for (let i = 0; i < d; i++) {
      if (constant[i]) continue;
      const inv = 1 / scale[i];
      for (let j = 0; j < p; j++) coefficients[i * p + j] = beta[i * p + j] * inv;
    }
    for (let i = 0; i < coefficients.length; i++) {
      if (!Number.isFinite(coefficients[i])) throw new Error("least squares: the solve produced a non-finite coefficient");
    }
    let interceptVec: Float64Array | null = null;
    if (intercept) {
      // b = ȳ − x̄ᵀβ with the means rebuilt from the shifted sums.
      const sx = this.shiftX as Float64Array, sy = this.shiftY as Float64Array;
      interceptVec = new Float64Array(p);
      for (let j = 0; j < p; j++) interceptVec[j] = sy[j] + this.sumY[j] / n;
      for (let i = 0; i < d; i++) {
        const xm = sx[i] + this.sumX[i] / n;
        for (let j = 0; j < p; j++) interceptVec[j] -= xm * coefficients[i * p + j];
      }
    }
    const conditionEstimate = pivotMin > 0 && Number.isFinite(pivotMin) ? (pivotMax / pivotMin) ** 2 : Infinity;
    if (dependent.length === 0 && conditionEstimate > 1e8) {
      warn(`the equilibrated XᵀX has condition number ≳ ${conditionEstimate.toExponential(1)}: ` +
        "coefficients may be inaccurate in the nearly dependent directions (fitted values are not affected much)");
    }
    const allDependent = [...constantCols, ...dependent].sort((a, b) => a - b);
    return withSummary<LeastSquaresFit>({
      inputs: d, outputs: p, coefficients, intercept: interceptVec, rows: n, droppedNonFinite: 0,
      rank: d - allDependent.length, dependentColumns: allDependent, conditionEstimate, warnings,
    }, fitSummary);
  }
}

/**
 * The sums of NormalEquations over some rows, around shifts chosen from the first rows seen (null before any row).
 * gxx holds only its upper triangle (row-major [inputs, inputs]); sumSqY is null unless `targetSquares` was asked for.
 */
export interface NormalEquationsState {
  inputs: number;
  outputs: number;
  rows: number;
  shiftX: Float64Array | null;
  shiftY: Float64Array | null;
  sumX: Float64Array;
  sumY: Float64Array;
  gxx: Float64Array;
  gxy: Float64Array;
  sumSqY: Float64Array | null;
}

function checkState(s: NormalEquationsState, what: string): void {
  const d = s.inputs, p = s.outputs;
  checkSizes(d, p, what);
  const sized = (a: Float64Array | null, n: number, name: string, nullable: boolean) => {
    if (a === null ? !nullable : !(a instanceof Float64Array) || a.length !== n) throw new InputError(what, `${name} must hold ${n} float64 values`);
  };
  if (!Number.isSafeInteger(s.rows) || s.rows < 0) throw new InputError(what, `rows must be a non-negative integer, got ${s.rows}`);
  sized(s.shiftX, d, "shiftX", s.rows === 0); sized(s.shiftY, p, "shiftY", s.rows === 0);
  sized(s.sumX, d, "sumX", false); sized(s.sumY, p, "sumY", false);
  sized(s.gxx, d * d, "gxx", false); sized(s.gxy, d * p, "gxy", false); sized(s.sumSqY, p, "sumSqY", true);
}

/**
 * The state of the union of the rows behind `a` and `b` (disjoint sets of rows): b's sums are moved onto a's
 * shifts, x − sa = (x − sb) + δ, and added. The shifts of both are near their rows' means, so δ is of the order of
 * the spread and the move loses nothing to cancellation.
 */
export function mergeNormalEquationStates(a: NormalEquationsState, b: NormalEquationsState): NormalEquationsState {
  checkState(a, "least squares state"); checkState(b, "least squares state");
  if (a.inputs !== b.inputs || a.outputs !== b.outputs) {
    throw new InputError("least squares state", `cannot merge ${a.inputs}×${a.outputs} with ${b.inputs}×${b.outputs} normal equations`);
  }
  if ((a.sumSqY === null) !== (b.sumSqY === null)) throw new InputError("least squares state", "one state tracks target squares, the other does not");
  const clone = (s: NormalEquationsState): NormalEquationsState => ({
    ...s, shiftX: s.shiftX && s.shiftX.slice(), shiftY: s.shiftY && s.shiftY.slice(), sumX: s.sumX.slice(), sumY: s.sumY.slice(),
    gxx: s.gxx.slice(), gxy: s.gxy.slice(), sumSqY: s.sumSqY && s.sumSqY.slice(),
  });
  if (b.rows === 0) return clone(a);
  if (a.rows === 0) return clone(b);
  const d = a.inputs, p = a.outputs, n = b.rows, out = clone(a);
  const dx = new Float64Array(d), dy = new Float64Array(p);
  for (let i = 0; i < d; i++) dx[i] = b.shiftX![i] - a.shiftX![i];
  for (let j = 0; j < p; j++) dy[j] = b.shiftY![j] - a.shiftY![j];
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) out.gxx[i * d + j] += b.gxx[i * d + j] + b.sumX[i] * dx[j] + dx[i] * b.sumX[j] + n * dx[i] * dx[j];
    for (let j = 0; j < p; j++) out.gxy[i * p + j] += b.gxy[i * p + j] + b.sumX[i] * dy[j] + dx[i] * b.sumY[j] + n * dx[i] * dy[j];
  }
  for (let j = 0; j < p; j++) {
    if (out.sumSqY) out.sumSqY[j] += b.sumSqY![j] + 2 * dy[j] * b.sumY[j] + n * dy[j] * dy[j];
    out.sumY[j] += b.sumY[j] + n * dy[j];
  }
  for (let i = 0; i < d; i++) out.sumX[i] += b.sumX[i] + n * dx[i];
  out.rows = a.rows + n;
  return out;
}

function listColumns(cols: number[]): string {
  return cols.length <= 10 ? cols.join(", ") : `${cols.slice(0, 10).join(", ")}, … (${cols.length} in all)`;
}

export interface FitOptions extends SolveOptions {
  /** Rows to fit on (default all), e.g. `trainSelection(split)`. */
  rows?: RowSelection;
  /** Rows read per chunk (default 2048). */
  rowsPerChunk?: number;
  /** Skip rows holding NaN/±Inf and report how many (default false: such a row is an InputError). */
  dropNonFinite?: boolean;
  /** Use the native BLAS bridge when it loaded (default true). */
  native?: boolean;
}

/** Rows of a zipped chunk that are selected and finite; non-finite ones are counted or rejected. */
export function usableRows(chunks: readonly RowChunk[], cols: readonly number[], names: readonly string[], start: number,
  rows: number, selection: RowSelection | undefined, dropNonFinite: boolean, counter: { dropped: number }): number[] {
  const out: number[] = [];
  for (let t = 0; t < rows; t++) {
    if (selection && selection.roles[start + t] !== selection.role) continue;
    let finite = true;
    for (let s = 0; s < chunks.length && finite; s++) {
      if (!rowIsFinite(chunks[s], t, cols[s])) {
        if (!dropNonFinite) {
          throw new InputError(names[s], `row ${start + t} holds NaN or ±Inf (pass dropNonFinite to skip such rows and count them)`);
        }
        finite = false;
      }
    }
    if (finite) out.push(t); else counter.dropped++;
  }
  return out;
}

function checkSelection(rows: number, selection: RowSelection | undefined): void {
  if (selection && selection.roles.length !== rows) {
    throw new InputError("rows", `the row selection covers ${selection.roles.length} rows, the data has ${rows}`);
  }
}

/** Fits x → y by ordinary least squares in one streaming pass (see the file comment). */
export function fitLeastSquares(x: RowSource, y: RowSource, options: FitOptions = {}): LeastSquaresFit {
  const d = x.cols, p = y.cols, intercept = options.intercept ?? true;
  const xName = x.name ?? "x", yName = y.name ?? "y";
  if (x.rows !== y.rows) throw new InputError(yName, `has ${y.rows} rows but ${xName} has ${x.rows}`);
  checkSelection(x.rows, options.rows);
  checkSizes(d, p, xName);
  const planned = selectedCount(x.rows, options.rows);
  if (planned < d + (intercept ? 1 : 0)) {
    throw new InputError("rows", `${planned} fitting rows cannot determine ${d} coefficients${intercept ? " and an intercept" : ""}`);
  }
  const ne = new NormalEquations(d, p, { native: options.native });
  const counter = { dropped: 0 };
  for (const { data, start, rows } of zipChunks([x, y], options.rowsPerChunk ?? 2048)) {
    const use = usableRows(data, [d, p], [xName, yName], start, rows, options.rows, options.dropNonFinite ?? false, counter);
    ne.add(data[0], data[1], rows, use.length === rows ? undefined : use);
  }
  const fit = ne.solve(options);
  fit.droppedNonFinite = counter.dropped;
  if (counter.dropped > 0) {
    const m = `dropped ${counter.dropped} row(s) holding NaN or ±Inf`;
    fit.warnings.push(m);
    options.onWarning?.(m);
  }
  return fit;
}

/** What a prediction needs of a fit. */
export type LinearMap = Pick<LeastSquaresFit, "inputs" | "outputs" | "coefficients" | "intercept">;

/** ŷ = x·coefficients (+ intercept) for row-major x [rows, inputs]; returns float64 [rows, outputs]. */
export function predict(fit: LinearMap, x: ArrayLike<number>, rows: number, options: { native?: boolean } = {}): Float64Array {
  const d = fit.inputs, p = fit.outputs;
  if (x.length !== rows * d) throw new InputError("predict", `expected ${rows}×${d} inputs, got ${x.length} values`);
  const x64 = x instanceof Float64Array ? x : Float64Array.from(x);
  const out = new Float64Array(rows * p);
  getKernels(options.native ?? true).gemmNN(rows, p, d, x64, fit.coefficients, out, false);
  if (fit.intercept) {
    const b = fit.intercept;
    for (let t = 0; t < rows; t++) for (let j = 0; j < p; j++) out[t * p + j] += b[j];
  }
  return out;
}

/** The fit restricted to outputs [from, to) (fits of several targets solved together share one Gram). */
export function selectOutputs(fit: LeastSquaresFit, from: number, to: number): LeastSquaresFit {
  const p = fit.outputs, d = fit.inputs, q = to - from;
  if (!(from >= 0 && to <= p && q >= 1)) throw new InputError("selectOutputs", `bad output range [${from}, ${to}) of ${p}`);
  const coefficients = new Float64Array(d * q);
  for (let i = 0; i < d; i++) coefficients.set(fit.coefficients.subarray(i * p + from, i * p + to), i * q);
  return withSummary<LeastSquaresFit>({ ...fit, outputs: q, coefficients, intercept: fit.intercept ? fit.intercept.slice(from, to) : null,
    warnings: [...fit.warnings] }, fitSummary);
}

/** The printed form of a fit (a cell's last value): its shape and health, not the coefficients. */
export function fitSummary(f: LeastSquaresFit): string[] {
  const lines = [`LeastSquaresFit ${f.inputs} → ${f.outputs} ${f.intercept ? "with" : "without"} intercept, fit on ${f.rows} rows: ` +
    `rank ${f.rank} of ${f.inputs}, condition ≳ ${formatNumber(f.conditionEstimate, 2)}`,
    "  .coefficients: Float64Array [inputs × outputs] (row-major); .intercept: [outputs] or null"];
  if (f.warnings.length) lines.push(`  ${f.warnings.length} warning(s): ${f.warnings[0].slice(0, 100)}${f.warnings.length > 1 || f.warnings[0].length > 100 ? " …" : ""}`);
  return lines;
}

export interface EvaluateOptions {
  /** Rows to evaluate on (default all), e.g. `testSelection(split)`. */
  rows?: RowSelection;
  rowsPerChunk?: number;
  dropNonFinite?: boolean;
  /** Bootstrap intervals over the evaluated rows (default off here). */
  bootstrap?: BootstrapOptions | false;
  native?: boolean;
}

/** Streams predictions of `fit` on x and scores them against y (every metric of RegressionMetrics). */
export function evaluateLeastSquares(fit: LeastSquaresFit, x: RowSource, y: RowSource, options: EvaluateOptions = {}): RegressionMetrics {
  const d = fit.inputs, p = fit.outputs;
  const xName = x.name ?? "x", yName = y.name ?? "y";
  if (x.cols !== d) throw new InputError(xName, `has ${x.cols} columns, the fit expects ${d}`);
  if (y.cols !== p) throw new InputError(yName, `has ${y.cols} columns, the fit predicts ${p}`);
  if (x.rows !== y.rows) throw new InputError(yName, `has ${y.rows} rows but ${xName} has ${x.rows}`);
  checkSelection(x.rows, options.rows);
  const rowsPerChunk = options.rowsPerChunk ?? 2048, drop = options.dropNonFinite ?? false;
  const plan = bootstrapPlan(options.bootstrap ?? false);
  let resampler: MultinomialResampler | null = null;
  if (plan) {
    let total = selectedCount(x.rows, options.rows);
    if (drop) { // the resampler must know the final row count before the first row
      const counter = { dropped: 0 };
      for (const { data, start, rows } of zipChunks([x, y], rowsPerChunk)) usableRows(data, [d, p], [xName, yName], start, rows, options.rows, true, counter);
      total -= counter.dropped;
    }
    resampler = new MultinomialResampler(total, plan.resamples, plan.seed);
  }
  const acc = new RegressionAccumulator(p, {
    native: options.native,
    bootstrap: plan ? { resamples: plan.resamples, level: plan.level, perDim: true } : undefined,
  });
  const counter = { dropped: 0 };
  for (const { data, start, rows } of zipChunks([x, y], rowsPerChunk)) {
    const use = usableRows(data, [d, p], [xName, yName], start, rows, options.rows, drop, counter);
    if (use.length === 0) continue;
    const xs = gatherRows(data[0], d, use), ys = gatherRows(data[1], p, use);
    const pred = predict(fit, xs, use.length, options);
    acc.add(ys, pred, use.length, resampler ? resampler.next(use.length) : undefined);
  }
  if (acc.rows === 0) throw new InputError("rows", "no rows to evaluate");
  return acc.result();
}

/** Copies the listed rows of row-major data into a compact float64 array. */
export function gatherRows(data: ArrayLike<number>, cols: number, rows: ArrayLike<number>): Float64Array {
  const out = new Float64Array(rows.length * cols);
  for (let t = 0; t < rows.length; t++) {
    const o = rows[t] * cols;
    for (let j = 0; j < cols; j++) out[t * cols + j] = data[o + j];
  }
  return out;
}
