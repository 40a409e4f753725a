// The one dense product of a TopK SAE step, the encoder pre-activations pre = xc · W_encᵀ ([rows, d] · [d, n]).
// It runs where the active backend runs matmuls: on wasm-blas straight on the arena views with OpenBLAS sgemm (the
// very routine that backend registers for tfjs matmuls, minus the copies); elsewhere through tfjs.
import { backendInfo, loadNativeBlas, matMulNT, tf, NativeBlas } from "../backend/index";

export type EncoderProduct = (xc: Float32Array, WencT: Float32Array, pre: Float32Array, rows: number, n: number, d: number) => void;

/** Which implementation `encoderProduct` uses on the active backend, in words. */
export function encoderProductPath(): string {
  return nativeBlasForBackend() ? "OpenBLAS sgemm on the kernel arena" : `tfjs matMul on the ${backendInfo().name} backend`;
}

function nativeBlasForBackend(): NativeBlas | null {
  return backendInfo().name === "wasm-blas" ? loadNativeBlas().blas : null;
}

/** The encoder product for the active backend (call `initBackend` first). */
export function encoderProduct(): EncoderProduct {
  const blas = nativeBlasForBackend();
  if (blas) {
    return (xc, WencT, pre, rows, n, d) => blas.sgemm(false, true, rows, n, d, 1, xc, d, WencT, d, 0, pre, n);
  }
  return (xc, WencT, pre, rows, n, d) => {
    // tidy must return the tensor, not its data: tidy walks a returned typed array element by element.
    const product = tf.tidy(() => matMulNT(tf.tensor2d(xc.subarray(0, rows * d), [rows, d]), tf.tensor2d(WencT.subarray(0, n * d), [n, d])));
    try {
      pre.set(product.dataSync());
    } finally {
      product.dispose();
    }
  };
}

/** Largest pre-activation buffer, in floats (128 MiB): bigger batches are encoded in row chunks of this size. */
export const MAX_PRE_FLOATS = 2 ** 25;

/** Rows per encoder chunk for `n` latents and batches of `batch` rows. */
export function chunkRowsFor(batch: number, n: number): number {
  return Math.max(1, Math.min(batch, Math.floor(MAX_PRE_FLOATS / n)));
}

/**
 * Computes pre = xc · W_encᵀ for rows [0, rows) of xc in chunks of `pre.length / n` rows, calling `each(rowStart,
 * chunkRows)` while `pre` holds that chunk's pre-activations (without b_enc).
 */
export function forEachPreChunk(product: EncoderProduct, xc: Float32Array, WencT: Float32Array, pre: Float32Array,
  rows: number, n: number, d: number, each: (rowStart: number, chunkRows: number) => void): void {
  const chunk = Math.floor(pre.length / n);
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const count = Math.min(chunk, rows - r0);
    product(xc.subarray(r0 * d, (r0 + count) * d), WencT, pre, count, n, d);
    each(r0, count);
  }
}
