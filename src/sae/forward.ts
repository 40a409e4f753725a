// The SAE forward pass, chunked over tokens so memory stays bounded for any batch and any width.
//
// Per chunk, for topk, relu and jumprelu SAEs (kernel-pass.ts): the encoder matmul into a host buffer, one SIMD pass
// per row that writes the active latents straight into sparse rows, and the decode as SIMD adds of the active
// decoder rows. Gated SAEs (and SAEs too big for a kernel arena) take the tfjs path: the activation's elementwise
// passes on the backend (activation.ts), one copy of f to the host and one scan of it into sparse rows. Either way
// the decode (sparse.ts) adds active rows or runs the matmul, whichever is cheaper. At most `LIVE_CHUNKS`
// [rows, d_sae] float buffers exist at once.
import { constants as bufferConstants } from "buffer";
import { tf } from "../backend/index";
import { InputError } from "../errors";
import { formatNumber, withSummary } from "../inspect";
import { Progress } from "../progress";
import { activate, encoderInput } from "./activation";
import { FvuAccumulator } from "./fvu";
import { KernelPass } from "./kernel-pass";
import type { SaeView as Sae } from "./types";
import { CsrBuilder, DecodePath, SparseLatents, decodeRows, validateLatents } from "./sparse";

/** Rows of activations with their width: an ActivationTable (from `dm.activations.run`, a store or a file) fits. */
export interface ActivationRows { readonly x: Float32Array; readonly d: number; readonly name?: string }

/** [n, d_in] activations: a row-major array, a tensor, or a table of rows (ActivationTable). */
export type SaeInput = Float32Array | tf.Tensor2D | ActivationRows;

export interface ForwardOptions {
  /** Bound on the memory of the per-chunk [rows, d_sae] intermediates, in bytes (default 256 MiB). */
  memoryBudgetBytes?: number;
  /** Rows per chunk; overrides the budget (tests use it to force many chunks). */
  chunkRows?: number;
  /** Keep the sparse latents in the result (default true). */
  latents?: boolean;
  /**
   * How to decode: "auto" (default) picks per chunk; "sparse" forces adding the active decoder rows, "dense" forces
   * the matmul. Both give the same numbers up to float32 rounding.
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
  /** Rows [start, start + count) on the host (finite-checked; read only). */
  chunk(start: number, count: number): Float32Array;
}

function rowSource(sae: Sae, input: SaeInput): RowSource {
  const d = sae.d_in;
  if (!(input instanceof Float32Array || input instanceof tf.Tensor)) {
    if (!input || !(input.x instanceof Float32Array)) throw new InputError("input", "must be a Float32Array, a rank-2 tensor [n, d_in] or an activation table");
    if (input.d !== d) throw new InputError(input.name ?? "input", `has rows of ${input.d} values but the SAE's d_in is ${d}`);
  }
  const x: Float32Array | tf.Tensor2D = input instanceof Float32Array || input instanceof tf.Tensor ? input : input.x;
  if (x instanceof Float32Array) {
    if (x.length % d !== 0) throw new InputError("input", `${x.length} values are not a whole number of rows of d_in = ${d}`);
    return {
      rows: x.length / d,
      chunk(start, count) {
        const host = x.subarray(start * d, (start + count) * d);
        checkFinite(host, start, d);
        return host;
      },
    };
  }
  if (!(x instanceof tf.Tensor) || x.rank !== 2) throw new InputError("input", "must be a Float32Array or a rank-2 tensor [n, d_in]");
  if (x.shape[1] !== d) throw new InputError("input", `has ${x.shape[1]} columns but the SAE's d_in is ${d}`);
  if (x.dtype !== "float32") throw new InputError("input", `must be float32, got ${x.dtype}`);
  return {
    rows: x.shape[0],
    chunk(start, count) {
      let host: Float32Array;
      if (count === x.shape[0]) {
        host = x.dataSync() as Float32Array;
      } else {
        const part = tf.slice(x, [start, 0], [count, d]);
        host = part.dataSync() as Float32Array;
        part.dispose();
      }
      checkFinite(host, start, d);
      return host;
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

/**
 * Encodes host rows [m, d_in] and appends their active latents to `csr` (counts to l0 from l0Offset). Returns the
 * dense latents when the tfjs path made them (the caller disposes them), else undefined.
 */
function encodeChunk(sae: Sae, pass: KernelPass | null, host: Float32Array, m: number, csr: CsrBuilder, l0: Int32Array, l0Offset: number): tf.Tensor2D | undefined {
  if (pass?.canEncode) {
    csr.appendSparse(pass.encodeRows(host, m), l0, l0Offset);
    return undefined;
  }
  const f = tf.tidy(() => activate(sae, encoderInput(sae, tf.tensor2d(host, [m, sae.d_in]))));
  csr.appendDense(f.dataSync() as Float32Array, m, l0, l0Offset);
  return f;
}

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
  const pass = rows > 0 ? KernelPass.acquire(sae, Math.min(chunk, rows), { encode: true, decode: options.decodePath !== "dense" }) : null;
  try {
    for (let r0 = 0; r0 < rows; r0 += chunk) {
      const m = Math.min(chunk, rows - r0);
      const host = src.chunk(r0, m);
      if (!keep) csr.reset();
      const f = encodeChunk(sae, pass, host, m, csr, l0, r0);
      const xhat = reconstruction.subarray(r0 * d, (r0 + m) * d);
      decodeRows(sae, csr.view(), keep ? r0 : 0, m, xhat, options.decodePath, pass, f);
      f?.dispose();
      const e = error.subarray(r0 * d, (r0 + m) * d);
      for (let i = 0; i < e.length; i++) e[i] = host[i] - xhat[i];
      stats.add(host, e);
      options.progress?.(r0 + m, rows, "SAE forward");
    }
  } finally {
    pass?.release();
  }
  if (!Number.isFinite(stats.residualSumOfSquares)) {
    throw new InputError("input", "the reconstruction overflowed float32 (inputs far outside the SAE's range?)");
  }
  let total = 0;
  for (let i = 0; i < rows; i++) total += l0[i];
  return withSummary<ForwardResult>({
    rows, d_in: d, reconstruction, error, latents: keep ? csr.finish() : undefined, l0,
    meanL0: rows > 0 ? total / rows : NaN, fvu: stats.fvu(),
  }, forwardSummary);
}

/** The printed form of a forward pass (a cell's last value): its metrics, and where the arrays are. */
export function forwardSummary(r: ForwardResult): string[] {
  return [`ForwardResult ${r.rows} rows × ${r.d_in}: fvu ${formatNumber(r.fvu, 3)}, mean L0 ${formatNumber(r.meanL0, 3)}`,
    "  .error (x − x̂) and .reconstruction (x̂): Float32Array [rows × d_in]; .l0: active latents per row",
    `  .latents: ${r.latents ? `SparseLatents (${r.latents.values.length} active)` : "not kept (latents: false)"}`];
}

/** Active latents only (no decode). */
export function encodeSparse(sae: Sae, x: SaeInput, options: ForwardOptions): SparseLatents {
  const src = rowSource(sae, x);
  const rows = src.rows;
  const chunk = chunkRowsFor(sae.d_sae, options);
  const csr = new CsrBuilder(rows, sae.d_sae);
  const l0 = new Int32Array(rows);
  const pass = rows > 0 ? KernelPass.acquire(sae, Math.min(chunk, rows), { encode: true, decode: false }) : null;
  try {
    for (let r0 = 0; r0 < rows; r0 += chunk) {
      const m = Math.min(chunk, rows - r0);
      encodeChunk(sae, pass, src.chunk(r0, m), m, csr, l0, r0)?.dispose();
      options.progress?.(r0 + m, rows, "SAE encode");
    }
  } finally {
    pass?.release();
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
  const pass = rows > 0 && options.decodePath !== "dense" ? KernelPass.acquire(sae, Math.min(chunk, rows), { encode: false, decode: true }) : null;
  try {
    for (let r0 = 0; r0 < rows; r0 += chunk) {
      const m = Math.min(chunk, rows - r0);
      decodeRows(sae, latents, r0, m, out.subarray(r0 * d, (r0 + m) * d), options.decodePath, pass);
      options.progress?.(r0 + m, rows, "SAE decode");
    }
  } finally {
    pass?.release();
  }
  return out;
}
