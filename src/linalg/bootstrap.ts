// Bootstrap confidence intervals over evaluation tokens without refitting and without storing the data.
//
// Each resample is an exact multinomial resample of the n evaluation tokens (n draws with replacement), generated
// one token at a time in reading order: token t of k remaining gets Binomial(m_b, 1/k) copies, where m_b is the
// number of draws resample b has left. So a chunk of rows turns into a [resamples × rows] matrix of counts, and
// every metric sum becomes a weighted sum accumulated in the same single pass as the point estimate. The fitted
// model is held fixed (the interval covers test-set sampling noise, not refitting noise), which is the usual
// convention for held-out metrics and what keeps a resample O(rows·outputs) instead of a refit.
import { InputError } from "../errors";
import { deriveSeed } from "./random";

export interface BootstrapOptions {
  /** Number of resamples (default 200; 0 switches the bootstrap off). */
  resamples?: number;
  /** Seed of the resamples (default 0). */
  seed?: number;
  /** Central coverage of the percentile interval (default 0.95). */
  level?: number;
}

/** A bootstrap percentile interval of one metric. */
export interface Interval {
  /** Lower and upper percentile bounds at `level`. */
  lo: number;
  hi: number;
  level: number;
  /** Standard deviation of the replicates (the bootstrap standard error). */
  se: number;
  /** The metric on every resample, in resample order. */
  replicates: Float64Array;
}

/** Checks bootstrap options and fills in defaults; null when switched off. */
export function bootstrapPlan(options: BootstrapOptions | false | undefined): Required<BootstrapOptions> | null {
  if (options === false) return null;
  const resamples = options?.resamples ?? 200;
  const seed = options?.seed ?? 0;
  const level = options?.level ?? 0.95;
  if (!Number.isSafeInteger(resamples) || resamples < 0 || resamples > 100_000) {
    throw new InputError("bootstrap.resamples", `must be an integer in [0, 100000], got ${resamples}`);
  }
  if (!Number.isInteger(seed)) throw new InputError("bootstrap.seed", `must be an integer, got ${seed}`);
  if (!(level > 0 && level < 1)) throw new InputError("bootstrap.level", `must lie in (0, 1), got ${level}`);
  return resamples === 0 ? null : { resamples, seed, level };
}

/** Streams multinomial resample counts for `total` rows read in order. */
export class MultinomialResampler {
  private readonly left: Float64Array; // draws each resample still has to place
  private readonly state: Uint32Array; // one mulberry32 state per resample
  private rowsLeft: number;

  constructor(readonly total: number, readonly resamples: number, readonly seed: number) {
    if (!Number.isSafeInteger(total) || total < 1) throw new InputError("bootstrap", `needs at least one row, got ${total}`);
    this.left = new Float64Array(resamples).fill(total);
    this.state = new Uint32Array(resamples);
    for (let b = 0; b < resamples; b++) this.state[b] = deriveSeed(seed, b);
    this.rowsLeft = total;
  }

  /** Counts for the next `rows` rows: row-major [resamples × rows] (row b = resample b), as float64 for BLAS. */
  next(rows: number): Float64Array {
    const w = new Float64Array(this.resamples * rows);
    this.draw(rows, w);
    return w;
  }

  /**
   * Passes over the next `rows` rows, drawing their counts without keeping them: a shard of the rows starts its
   * resamples where a single pass over all rows would be at its first row.
   */
  skip(rows: number): void {
    const block = 4096, w = new Float64Array(this.resamples * Math.min(rows, block));
    for (let done = 0; done < rows; done += block) this.draw(Math.min(block, rows - done), w);
  }

  private draw(rows: number, w: Float64Array): void {
    if (rows > this.rowsLeft) throw new InputError("bootstrap", `asked for ${rows} more rows, only ${this.rowsLeft} of ${this.total} remain`);
    const B = this.resamples;
    if (rows > 0) w.fill(0, 0, B * rows);
    for (let b = 0; b < B; b++) {
      let s = this.state[b];
      let m = this.left[b];
      let k = this.rowsLeft;
      const o = b * rows;
      for (let t = 0; t < rows; t++, k--) {
        if (m === 0) break;
        if (k === 1) { w[o + t] = m; m = 0; break; }
        // Binomial(m, 1/k) by inversion: mean m/k ≈ 1, so the loop runs about twice.
        s = (s + 0x6d2b79f5) >>> 0;
        let z = s;
        z = Math.imul(z ^ (z >>> 15), z | 1);
        z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
        const u = ((z ^ (z >>> 14)) >>> 0) / 4294967296;
        const q = 1 / k;
        const ratio = q / (1 - q);
        let p = Math.exp(m * Math.log1p(-q));
        let cdf = p, c = 0;
        while (u >= cdf && c < m && p > 0) {
          c++;
          p *= ((m - c + 1) / c) * ratio;
          cdf += p;
        }
        w[o + t] = c;
        m -= c;
      }
      this.state[b] = s;
      this.left[b] = m;
    }
    this.rowsLeft -= rows;
  }
}

/** The percentile interval and standard error of bootstrap replicates (non-finite replicates are ignored). */
export function percentileInterval(replicates: Float64Array, level: number): Interval {
  const finite = Array.from(replicates).filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length === 0) return { lo: NaN, hi: NaN, level, se: NaN, replicates };
  const q = (p: number): number => {
    const x = p * (finite.length - 1);
    const i = Math.floor(x), f = x - i;
    return i + 1 < finite.length ? finite[i] * (1 - f) + finite[i + 1] * f : finite[i];
  };
  let mean = 0;
  for (const v of finite) mean += v;
  mean /= finite.length;
  let ss = 0;
  for (const v of finite) ss += (v - mean) ** 2;
  const alpha = (1 - level) / 2;
  return { lo: q(alpha), hi: q(1 - alpha), level, se: Math.sqrt(ss / Math.max(1, finite.length - 1)), replicates };
}
