// The unit-norm decoder constraint shared by the TopK and JumpReLU trainers: before the optimiser step each decoder
// row's gradient loses its component along the (unit) row, so only the row's direction moves; after it every row is
// rescaled to unit norm.
import { deriveSeed, uniform53 } from "../linalg/random";
import type { Kernels } from "./kernels";

/** gWdec[j] −= (gWdec[j] · Wdec[j]) Wdec[j] for the n rows (each d wide) of two arena arrays. */
export function removeParallelGradient(K: Kernels, Wdec: Float32Array, gWdec: Float32Array, n: number, d: number): void {
  const rowBytes = 4 * d;
  for (let j = 0; j < n; j++) {
    const w = Wdec.byteOffset + j * rowBytes, gw = gWdec.byteOffset + j * rowBytes;
    const c = K.dot(gw, w, d);
    if (c !== 0) K.axpy(-c, w, gw, d);
  }
}

/** Rescales every non-zero row of Wdec [n, d] (an arena array) to unit norm. */
export function normaliseRows(K: Kernels, Wdec: Float32Array, n: number, d: number): void {
  const rowBytes = 4 * d;
  for (let j = 0; j < n; j++) {
    const w = Wdec.byteOffset + j * rowBytes;
    const norm2 = K.dot(w, w, d);
    if (norm2 > 0) K.scal(1 / Math.sqrt(norm2), w, d);
  }
}

/** Fills out [n, d] with seeded random unit rows (Gaussian directions): the decoder initialisation of both trainers. */
export function randomUnitRows(out: Float32Array, n: number, d: number, seed: number): void {
  const u = uniform53(deriveSeed(seed, 1));
  for (let j = 0; j < n; j++) {
    let norm2 = 0;
    for (let t = 0; t < d; t++) {
      // Box–Muller; 1 − u() lies in (0, 1], so the log is finite
      const z = Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
      out[j * d + t] = z;
      norm2 += z * z;
    }
    const inv = 1 / Math.sqrt(norm2);
    for (let t = 0; t < d; t++) out[j * d + t] *= inv;
  }
}
