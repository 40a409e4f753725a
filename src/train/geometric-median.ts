// The geometric median (the point minimising the sum of Euclidean distances) by Weiszfeld's iteration, in float64.
// The SAE trainer starts b_dec there: unlike the mean it is not dragged by the few huge-norm activations.
import { InputError } from "../errors";

export interface GeometricMedianOptions {
  /** Iteration cap (sparsify: 100). */
  maxIter?: number;
  /** Stop when the estimate moves less than this (Euclidean distance; sparsify: 1e-5). */
  tol?: number;
}

export interface GeometricMedian {
  median: Float64Array;
  iterations: number;
  converged: boolean;
}

/**
 * Weiszfeld's iteration for points [rows, d] (row-major), started at the mean:
 *   y ← Σ_i w_i x_i / Σ_i w_i,  w_i = 1 / max(‖x_i − y‖, ε),
 * where ε (1e-12 × the points' scale) keeps a point that coincides with the estimate from dividing by zero.
 */
export function geometricMedian(points: ArrayLike<number>, rows: number, d: number, options: GeometricMedianOptions = {}): GeometricMedian {
  const maxIter = options.maxIter ?? 100, tol = options.tol ?? 1e-5;
  if (!Number.isInteger(rows) || rows < 1 || !Number.isInteger(d) || d < 1) throw new InputError("geometricMedian", `needs rows ≥ 1 and d ≥ 1, got rows=${rows}, d=${d}`);
  if (points.length < rows * d) throw new InputError("geometricMedian", `points hold ${points.length} values, fewer than rows·d = ${rows * d}`);
  if (!Number.isInteger(maxIter) || maxIter < 0) throw new InputError("geometricMedian maxIter", `must be a non-negative integer, got ${maxIter}`);
  if (!(tol >= 0)) throw new InputError("geometricMedian tol", `must be ≥ 0, got ${tol}`);

  const y = new Float64Array(d);
  let scale = 0;
  for (let i = 0; i < rows; i++) {
    for (let t = 0; t < d; t++) {
      const v = points[i * d + t];
      if (!Number.isFinite(v)) throw new InputError("geometricMedian", `point ${i} has a non-finite value ${v}`);
      y[t] += v;
      scale = Math.max(scale, Math.abs(v));
    }
  }
  for (let t = 0; t < d; t++) y[t] /= rows;
  const eps = 1e-12 * Math.max(scale, 1e-300);
  const next = new Float64Array(d);
  for (let iter = 1; iter <= maxIter; iter++) {
    next.fill(0);
    let wSum = 0;
    for (let i = 0; i < rows; i++) {
      let dist2 = 0;
      for (let t = 0; t < d; t++) {
        const diff = points[i * d + t] - y[t];
        dist2 += diff * diff;
      }
      const w = 1 / Math.max(Math.sqrt(dist2), eps);
      wSum += w;
      for (let t = 0; t < d; t++) next[t] += w * points[i * d + t];
    }
    let move2 = 0;
    for (let t = 0; t < d; t++) {
      const v = next[t] / wSum;
      move2 += (v - y[t]) ** 2;
      y[t] = v;
    }
    if (Math.sqrt(move2) < tol) return { median: y, iterations: iter, converged: true };
  }
  return { median: y, iterations: maxIter, converged: false };
}
