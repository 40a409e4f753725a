// The fraction of variance unexplained, streamed over row blocks (formats-and-metrics §3, metric `fvu`).
/**
 * FVU = Σ‖x − x̂‖² / Σ‖x − x̄‖² accumulated over row blocks in float64. The centred sum uses per-dimension means and
 * M2 merged block by block (Chan et al.), so large means do not cancel away the variance.
 */
export class FvuAccumulator {
  private n = 0;
  private readonly mean: Float64Array;
  private readonly m2: Float64Array;
  private rss = 0;
  private readonly blockMean: Float64Array;
  private readonly blockM2: Float64Array;

  constructor(readonly d: number) {
    this.mean = new Float64Array(d);
    this.m2 = new Float64Array(d);
    this.blockMean = new Float64Array(d);
    this.blockM2 = new Float64Array(d);
  }

  /** Adds rows of x [m, d] and their errors x − x̂ [m, d]. */
  add(x: Float32Array, error: Float32Array): void {
    const d = this.d, m = x.length / d;
    if (m === 0) return;
    for (let i = 0; i < error.length; i++) this.rss += error[i] * error[i];
    const bm = this.blockMean.fill(0), bm2 = this.blockM2.fill(0);
    for (let r = 0; r < m; r++) for (let j = 0, o = r * d; j < d; j++) bm[j] += x[o + j];
    for (let j = 0; j < d; j++) bm[j] /= m;
    for (let r = 0; r < m; r++) for (let j = 0, o = r * d; j < d; j++) { const c = x[o + j] - bm[j]; bm2[j] += c * c; }
    const n0 = this.n, n = n0 + m;
    for (let j = 0; j < d; j++) {
      const delta = bm[j] - this.mean[j];
      this.mean[j] += (delta * m) / n;
      this.m2[j] += bm2[j] + (delta * delta * n0 * m) / n;
    }
    this.n = n;
  }

  get rows(): number { return this.n; }
  get residualSumOfSquares(): number { return this.rss; }
  get centredSumOfSquares(): number { return this.m2.reduce((a, b) => a + b, 0); }

  /** NaN when the rows have no variance (fewer than two distinct rows). */
  fvu(): number {
    const den = this.centredSumOfSquares;
    return den > 0 ? this.rss / den : NaN;
  }
}
