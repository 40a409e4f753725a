// Sparse latents (CSR) and decoding them. f is sparse (L0 ≪ d_sae), so on wasm-blas the decode adds v·W_dec[j] per
// active latent with BLAS straight on the tensor's memory: nnz·d_in multiply-adds instead of the dense n·d_sae·d_in.
// Where that path is missing, or f is dense enough for the matmul to win, f·W_dec runs as a matmul.
import { backendInfo, loadNativeBlas, NativeBlas, tf, wasmHeapView } from "../backend/index";
import { InputError } from "../errors";
import { decodeDense } from "./activation";
import type { Sae } from "./model";

/** Latents in compressed sparse rows: row r's active latents are indices/values[rowPtr[r] .. rowPtr[r+1]). */
export interface SparseLatents {
  rows: number;
  d_sae: number;
  rowPtr: Int32Array;
  /** Latent ids, ascending within each row. */
  indices: Int32Array;
  /** Activations, all > 0. */
  values: Float32Array;
}

/** "auto" picks per chunk; "sparse" uses the sparse path where the backend has it (wasm-blas); "dense" the matmul. */
export type DecodePath = "auto" | "sparse" | "dense";

export interface CsrRows { rowPtr: Int32Array; indices: Int32Array; values: Float32Array }

/** Appends CSR rows without knowing the total in advance (capacity doubles). */
export class CsrBuilder {
  private indices = new Int32Array(1024);
  private values = new Float32Array(1024);
  private nnz = 0;
  readonly rowPtr: Int32Array;
  private row = 0;

  constructor(readonly rows: number, readonly d_sae: number) {
    this.rowPtr = new Int32Array(rows + 1);
  }

  /** Scans dense rows [m, d_sae] (values ≥ 0), appends their positive entries and writes each row's count to l0. */
  appendDense(f: Float32Array, m: number, l0: Int32Array, l0Offset: number): void {
    const n = this.d_sae;
    for (let r = 0; r < m; r++) {
      const base = r * n;
      const start = this.nnz;
      for (let j = 0; j < n; j++) {
        const v = f[base + j];
        if (v > 0) {
          if (this.nnz === this.indices.length) this.grow();
          this.indices[this.nnz] = j;
          this.values[this.nnz] = v;
          this.nnz++;
        }
      }
      l0[l0Offset + r] = this.nnz - start;
      this.rowPtr[++this.row] = this.nnz;
    }
  }

  private grow(): void {
    const cap = this.indices.length * 2;
    if (cap > 2 ** 31 - 1) throw new InputError("input", "more than 2^31 active latents in one batch; pass fewer rows at a time");
    const i = new Int32Array(cap); i.set(this.indices); this.indices = i;
    const v = new Float32Array(cap); v.set(this.values); this.values = v;
  }

  /** The rows so far (arrays may be longer than the entries in use). */
  view(): CsrRows {
    return { rowPtr: this.rowPtr, indices: this.indices, values: this.values };
  }

  /** Starts over, keeping the allocated capacity (for one chunk at a time). */
  reset(): void {
    this.nnz = 0;
    this.row = 0;
  }

  finish(): SparseLatents {
    return { rows: this.rows, d_sae: this.d_sae, rowPtr: this.rowPtr,
      indices: this.indices.slice(0, this.nnz), values: this.values.slice(0, this.nnz) };
  }
}

/** Checks a CSR structure against an SAE before it is used to index anything. */
export function validateLatents(latents: SparseLatents, d_sae: number): void {
  const { rows, rowPtr, indices, values } = latents;
  if (latents.d_sae !== d_sae) throw new InputError("latents", `are over ${latents.d_sae} latents but the SAE has ${d_sae}`);
  if (!Number.isSafeInteger(rows) || rows < 0) throw new InputError("latents", `rows must be a non-negative integer, got ${rows}`);
  if (!(rowPtr instanceof Int32Array) || rowPtr.length !== rows + 1) throw new InputError("latents", `rowPtr must be an Int32Array of length rows + 1 = ${rows + 1}`);
  if (!(indices instanceof Int32Array) || !(values instanceof Float32Array) || indices.length !== values.length) {
    throw new InputError("latents", "indices (Int32Array) and values (Float32Array) must have equal lengths");
  }
  if (rowPtr[0] !== 0 || rowPtr[rows] !== indices.length) throw new InputError("latents", `rowPtr must run from 0 to ${indices.length}`);
  for (let r = 0; r < rows; r++) if (rowPtr[r + 1] < rowPtr[r]) throw new InputError("latents", `rowPtr decreases at row ${r}`);
  for (let p = 0; p < indices.length; p++) {
    if (indices[p] < 0 || indices[p] >= d_sae) throw new InputError("latents", `index ${indices[p]} at position ${p} is outside 0..${d_sae - 1}`);
    if (!Number.isFinite(values[p])) throw new InputError("latents", `value at position ${p} is not finite`);
  }
}

/** Dense [m, d_sae] latents on the backend from CSR rows [r0, r0 + m) (duplicate indices add up). */
export function denseFromCsr(latents: CsrRows, d_sae: number, r0: number, m: number): tf.Tensor2D {
  const p0 = latents.rowPtr[r0], p1 = latents.rowPtr[r0 + m];
  const nnz = p1 - p0;
  if (nnz === 0) return tf.zeros([m, d_sae]);
  const coords = new Int32Array(2 * nnz);
  for (let r = 0; r < m; r++) {
    for (let p = latents.rowPtr[r0 + r]; p < latents.rowPtr[r0 + r + 1]; p++) {
      const q = p - p0;
      coords[2 * q] = r;
      coords[2 * q + 1] = latents.indices[p];
    }
  }
  return tf.tidy(() => tf.scatterND(tf.tensor2d(coords, [nnz, 2], "int32"), tf.tensor1d(latents.values.subarray(p0, p1)), [m, d_sae]) as tf.Tensor2D);
}

// ---------------------------------------------------------------------------------------------------------------
// Decoding sparse rows

let blasThreads: number | undefined;
const ONE = Float32Array.of(1);

/** OpenBLAS when the active backend is wasm-blas (the backend that already sends its matmuls there), else undefined. */
function sparseBlas(): { blas: NativeBlas; threads: number } | undefined {
  if (backendInfo().name !== "wasm-blas") return undefined;
  const { blas } = loadNativeBlas();
  if (!blas) return undefined;
  blasThreads ??= Math.max(1, blas.config().threads);
  return { blas, threads: blasThreads };
}

/**
 * Whether adding active rows beats the dense matmul for `nnz` active latents in `m` rows. The sparse path runs one
 * BLAS axpy per active latent on one thread (~1.5 G multiply-adds/s measured); the matmul does m·d_sae·d_in work at
 * roughly 40–90 G/s per BLAS thread, so the crossover density is about 1 / (32 · threads).
 */
function preferSparse(nnz: number, m: number, d_sae: number, threads: number): boolean {
  return nnz * 32 * threads < m * d_sae;
}

/**
 * x̂ for CSR rows [r0, r0 + m) into `out` [m, d_in] (host). `denseF`, when given, is the same rows as a dense tensor
 * already on the backend (forward has it), saving the rebuild if the dense path is taken; it is not disposed here.
 */
export function decodeRows(sae: Sae, csr: CsrRows, r0: number, m: number, out: Float32Array, path: DecodePath = "auto", denseF?: tf.Tensor2D): void {
  const d = sae.d_in;
  const nnz = csr.rowPtr[r0 + m] - csr.rowPtr[r0];
  const native = path === "dense" ? undefined : sparseBlas();
  if (native && (path === "sparse" || preferSparse(nnz, m, sae.d_sae, native.threads))) {
    const bias = sae.b_dec.dataSync() as Float32Array;
    const W = wasmHeapView(sae.W_dec); // after the read above: nothing allocates on the backend from here on
    if (W) {
      const { rowPtr, indices, values } = csr;
      for (let r = 0; r < m; r++) {
        const o = out.subarray(r * d, (r + 1) * d);
        o.set(bias);
        for (let p = rowPtr[r0 + r]; p < rowPtr[r0 + r + 1]; p++) {
          const j = indices[p] * d;
          // o += v · W_dec[j] as a 1×1·1×d product (the bridge exposes gemm only).
          native.blas.sgemm(false, false, 1, d, 1, values[p], ONE, 1, W.subarray(j, j + d), d, 1, o, d);
        }
      }
      return;
    }
  }
  const f = denseF ?? denseFromCsr(csr, sae.d_sae, r0, m);
  const recon = decodeDense(sae, f);
  if (!denseF) f.dispose();
  out.set(recon.dataSync() as Float32Array);
  recon.dispose();
}
