// Synthetic training data with known features: unit directions in R^d; each row is a sparse non-negative
// combination of a few of them plus small Gaussian noise (seeded).
import { normals, rng } from "../helpers/random";

export interface Synthetic {
  x: Float32Array;
  /** [nTrue, d] unit rows. */
  directions: Float32Array;
}

export function sparseDirections(opts: { d: number; nTrue: number; rows: number; minActive: number; maxActive: number; noise: number; seed: number }): Synthetic {
  const { d, nTrue, rows, minActive, maxActive, noise, seed } = opts;
  const directions = normals(nTrue * d, seed);
  for (let i = 0; i < nTrue; i++) {
    let s = 0;
    for (let t = 0; t < d; t++) s += directions[i * d + t] ** 2;
    for (let t = 0; t < d; t++) directions[i * d + t] /= Math.sqrt(s);
  }
  const u = rng(seed + 1), eps = normals(rows * d, seed + 2);
  const x = new Float32Array(rows * d);
  for (let r = 0; r < rows; r++) {
    const active = minActive + Math.floor(u() * (maxActive - minActive + 1));
    for (let a = 0; a < active; a++) {
      const i = Math.floor(u() * nTrue), c = 0.5 + u();
      for (let t = 0; t < d; t++) x[r * d + t] += c * directions[i * d + t];
    }
    for (let t = 0; t < d; t++) x[r * d + t] += noise * eps[r * d + t];
  }
  return { x, directions };
}

/** For each true direction, the largest cosine with any decoder row (rows of W_dec are unit-norm). */
export function bestCosines(directions: Float32Array, W_dec: Float32Array, d: number): number[] {
  const nTrue = directions.length / d, n = W_dec.length / d;
  const out: number[] = [];
  for (let i = 0; i < nTrue; i++) {
    let best = -1;
    for (let j = 0; j < n; j++) {
      let c = 0;
      for (let t = 0; t < d; t++) c += directions[i * d + t] * W_dec[j * d + t];
      best = Math.max(best, c);
    }
    out.push(best);
  }
  return out;
}
