// The SAE forward pass, chunked over tokens so memory stays bounded for any batch and any width.
//
// Per chunk: the encoder matmul x·W_enc (BLAS under the wasm-blas backend), the activation's elementwise passes on the
// backend (activation.ts), one copy of f to the host and one scan of it into sparse rows, then the decode
// (sparse.ts). At most `LIVE_CHUNKS` [rows, d_sae] float buffers exist at once.
import { constants as bufferConstants } from "buffer";
import { tf } from "../backend/index";
import { InputError } from "../errors";
import { Progress } from "../progress";
import { activate, encoderInput } from "./activation";
import { FvuAccumulator } from "./fvu";
import type { Sae } from "./model";
import { CsrBuilder, DecodePath, SparseLatents, decodeRows, validateLatents } from "./sparse";

export type SaeInput = Float32Array | tf.Tensor2D;

export interface ForwardOptions {
  /** Bound on the memory of the per-chunk [rows, d_sae] intermediates, in bytes (default 256 MiB). */
  memoryBudgetBytes?: number;
  /** Rows per chunk; overrides the budget (tests use it to force many chunks). */
  chunkRows?: number;
  /** Keep the sparse latents in the result (default true). */
  latents?: boolean;
  /**
   * How to decode: "auto" (default) picks per chunk; "sparse" forces the sparse path where the backend has it
   * (wasm-blas), "dense" forces the matmul. Both give the same numbers up to float32 rounding.
   */
  decodePath?: DecodePath;
  progress?: Progress;
}

export interface ForwardResult {
  rows: number;
  d_in: number;
  /** x̂ = f(x)·W_dec + b_dec, [rows, d_in]. */
  reconstruction: Float32Array;
  /** x − x̂ (the paper's sign), [rows, d_in]. */
  error: Float32Array;
  /** Active latents (undefined when `latents: false`). */
  latents: SparseLatents | undefined;
  /** Active latents per token. */
  l0: Int32Array;
  /** Mean of l0. */
  meanL0: number;
  /** Σ‖x − x̂‖² / Σ‖x − x̄‖² over the batch, x̄ the per-dimension mean (NaN when the batch has no variance). */
  fvu: number;
}

export const DEFAULT_MEMORY_BUDGET = 256 * 1024 ** 2;
/** [rows, d_sae] float buffers alive at the peak of a chunk: three on the backend and f's host copy. */
const LIVE_CHUNKS = 4;
/** Largest typed array Node allocates, in bytes. */
const MAX_ARRAY_BYTES = bufferConstants.MAX_LENGTH;

/** Rows per chunk so that the [rows, d_sae] intermediates stay within the budget (at least one row). */
export function chunkRowsFor(d_sae: number, options: ForwardOptions): number {
  if (options.chunkRows !== undefined) {
    if (!Number.isSafeInteger(options.chunkRows) || options.chunkRows <= 0) {
      throw new InputError("chunkRows", `must be a positive integer, got ${options.chunkRows}`);
    }
    return options.chunkRows;
  }
  const budget = options.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET;
  if (!(budget > 0)) throw new InputError("memoryBudgetBytes", `must be positive, got ${budget}`);
  return Math.max(1, Math.floor(budget / (LIVE_CHUNKS * 4 * d_sae)));
}

// ---------------------------------------------------------------------------------------------------------------
// Input rows

interface RowSource {
  rows: number;
  /** Rows [start, start + count) on the backend and on the host (finite-checked). */
  chunk(start: number, count: number): { tensor: tf.Tensor2D; host: Float32Array };
}

function rowSource(sae: Sae, x: SaeInput): RowSource {
  const d = sae.d_in;
  if (x instanceof Float32Array) {
    if (x.length % d !== 0) throw new InputError("input", `${x.length} values are not a whole number of rows of d_in = ${d}`);
    return {
      rows: x.length / d,
      chunk(start, count) {
        const host = x.subarray(start * d, (start + count) * d);
        checkFinite(host, start, d);
        return { tensor: tf.tensor2d(host, [count, d]), host };
      },
    };
  }
  if (!(x instanceof tf.Tensor) || x.rank !== 2) throw new InputError("input", "must be a Float32Array or a rank-2 tensor [n, d_in]");
  if (x.shape[1] !== d) throw new InputError("input", `has ${x.shape[1]} columns but the SAE's d_in is ${d}`);
  if (x.dtype !== "float32") throw new InputError("input", `must be float32, got ${x.dtype}`);
  return {
    rows: x.shape[0],
    chunk(start, count) {
      const tensor = count === x.shape[0] ? tf.clone(x) : tf.slice(x, [start, 0], [count, d]);
      const host = tensor.dataSync() as Float32Array;
      checkFinite(host, start, d);
      return { tensor, host };
    },
  };
}

function checkFinite(host: Float32Array, rowOffset: number, d: number): void {
  for (let i = 0; i < host.length; i++) {
    if (!Number.isFinite(host[i])) {
      throw new InputError("input", `row ${rowOffset + Math.floor(i / d)} has a non-finite value (${host[i]}) in column ${i % d}`);
    }
  }
}

function checkOutputSize(rows: number, cols: number, what: string): void {
  if (rows * cols * 4 > MAX_ARRAY_BYTES) {
    throw new InputError("input", `${rows} rows × ${cols} would make a ${what} array larger than one typed array can hold; ` +
      "pass the rows in blocks (the sae-forward command streams any number of rows)");
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The passes

/** Encodes, decodes and measures x chunk by chunk. */
export function forward(sae: Sae, x: SaeInput, options: ForwardOptions): ForwardResult {
  const src = rowSource(sae, x);
  const rows = src.rows, d = sae.d_in;
  checkOutputSize(rows, d, "reconstruction");
  const keep = options.latents ?? true;
  const chunk = chunkRowsFor(sae.d_sae, options);
  const reconstruction = new Float32Array(rows * d);
  const error = new Float32Array(rows * d);
  const l0 = new Int32Array(rows);
  // Kept latents accumulate in one builder; otherwise one chunk's rows at a time.
  const csr = new CsrBuilder(keep ? rows : Math.min(chunk, rows), sae.d_sae);
  const stats = new FvuAccumulator(d);
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const m = Math.min(chunk, rows - r0);
    const { tensor, host } = src.chunk(r0, m);
    const xin = encoderInput(sae, tensor);
    tensor.dispose();
    const f = activate(sae, xin);
    xin.dispose();
    if (!keep) csr.reset();
    csr.appendDense(f.dataSync() as Float32Array, m, l0, r0);
    const xhat = reconstruction.subarray(r0 * d, (r0 + m) * d);
    decodeRows(sae, csr.view(), keep ? r0 : 0, m, xhat, options.decodePath, f);
    f.dispose();
    const e = error.subarray(r0 * d, (r0 + m) * d);
    for (let i = 0; i < e.length; i++) e[i] = host[i] - xhat[i];
    stats.add(host, e);
    options.progress?.(r0 + m, rows, "SAE forward");
  }
  if (!Number.isFinite(stats.residualSumOfSquares)) {
    throw new InputError("input", "the reconstruction overflowed float32 (inputs far outside the SAE's range?)");
  }
  let total = 0;
  for (let i = 0; i < rows; i++) total += l0[i];
  return {
    rows, d_in: d, reconstruction, error, latents: keep ? csr.finish() : undefined, l0,
    meanL0: rows > 0 ? total / rows : NaN, fvu: stats.fvu(),
  };
}

/** Active latents only (no decode). */
export function encodeSparse(sae: Sae, x: SaeInput, options: ForwardOptions): SparseLatents {
  const src = rowSource(sae, x);
  const rows = src.rows;
  const chunk = chunkRowsFor(sae.d_sae, options);
  const csr = new CsrBuilder(rows, sae.d_sae);
  const l0 = new Int32Array(rows);
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const m = Math.min(chunk, rows - r0);
    const { tensor } = src.chunk(r0, m);
    const xin = encoderInput(sae, tensor);
    tensor.dispose();
    const f = activate(sae, xin);
    xin.dispose();
    csr.appendDense(f.dataSync() as Float32Array, m, l0, r0);
    f.dispose();
    options.progress?.(r0 + m, rows, "SAE encode");
  }
  return csr.finish();
}

/** Reconstruction [rows, d_in] from sparse latents. */
export function decodeSparse(sae: Sae, latents: SparseLatents, options: ForwardOptions): Float32Array {
  validateLatents(latents, sae.d_sae);
  const rows = latents.rows, d = sae.d_in;
  checkOutputSize(rows, d, "reconstruction");
  const chunk = chunkRowsFor(sae.d_sae, options);
  const out = new Float32Array(rows * d);
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const m = Math.min(chunk, rows - r0);
    decodeRows(sae, latents, r0, m, out.subarray(r0 * d, (r0 + m) * d), options.decodePath);
    options.progress?.(r0 + m, rows, "SAE decode");
  }
  return out;
}
