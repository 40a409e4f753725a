// Sparse latents (CSR) and decoding them. f is sparse (L0 ≪ d_sae), so the decode adds v·W_dec[j] per active latent
// with a SIMD kernel (kernel-pass.ts): nnz·d_in multiply-adds instead of the dense n·d_sae·d_in. Where f is dense
// enough for the matmul to win, or the decoder does not fit a kernel arena, f·W_dec runs as a matmul.
import * as os from "os";
import { backendInfo, loadNativeBlas, tf } from "../backend/index";
import { InputError } from "../errors";
import { formatNumber, rangeText, withSummary } from "../inspect";
import type { CsrView } from "../train/sparse";
import { decodeDense } from "./activation";
import type { KernelPass } from "./kernel-pass";
import type { SaeView as Sae } from "./types";

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

/** "auto" picks per chunk; "sparse" adds the active decoder rows (SIMD, every backend); "dense" runs the matmul. */
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

  /** Appends sparse rows (their ptr starting at 0) and writes each row's count to l0. */
  appendSparse(rows: CsrView, l0: Int32Array, l0Offset: number): void {
    const { ptr, idx, val } = rows;
    const nnz = ptr[rows.rows];
    if (this.nnz + nnz > this.indices.length) this.grow(this.nnz + nnz);
    this.indices.set(idx.subarray(0, nnz), this.nnz);
    this.values.set(val.subarray(0, nnz), this.nnz);
    for (let r = 0; r < rows.rows; r++) {
      l0[l0Offset + r] = ptr[r + 1] - ptr[r];
      this.rowPtr[++this.row] = this.nnz + ptr[r + 1];
    }
    this.nnz += nnz;
  }

  /** Doubles the capacity until it holds `needed` entries. */
  private grow(needed = this.nnz + 1): void {
    let cap = this.indices.length;
    while (cap < needed) cap *= 2;
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
    return withSummary({ rows: this.rows, d_sae: this.d_sae, rowPtr: this.rowPtr,
      indices: this.indices.slice(0, this.nnz), values: this.values.slice(0, this.nnz) }, latentsSummary);
  }
}

/** The printed form of sparse latents (a cell's last value): sizes and activations, not the arrays. */
export function latentsSummary(l: SparseLatents): string[] {
  const seen = new Set<number>();
  for (let i = 0; i < l.indices.length; i++) seen.add(l.indices[i]);
  return [`SparseLatents ${l.rows} rows × ${l.d_sae} latents: mean L0 ${formatNumber(l.rows ? l.values.length / l.rows : NaN, 3)}, ` +
    `${seen.size} latents active somewhere`,
    `  activations: ${rangeText(l.values)}`,
    "  CSR: row r's latents are .indices/.values[.rowPtr[r] .. .rowPtr[r + 1]); sae.decode(latents) reconstructs"];
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

let parallelism: number | undefined;
/** Threads the backend's matmul runs on (OpenBLAS's own count on wasm-blas; tfjs-wasm runs one thread in Node). */
function matmulThreads(): number {
  const name = backendInfo().name;
  if (name === "wasm-blas") return (parallelism ??= Math.max(1, loadNativeBlas().blas?.config().threads ?? 1));
  if (name === "tensorflow") return os.cpus().length;
  return 1;
}

/**
 * Whether adding active rows beats the dense matmul for `nnz` active latents in `m` rows. The SIMD sparse path adds
 * ~1.4 G multiply-adds/s (one thread, d_in 128; more for wider rows); the matmul does m·d_sae·d_in work at roughly
 * 40–70 G/s per BLAS thread, so the crossover density is about 1 / (32 · threads). (tfjs's pure-JS cpu matmul is far
 * slower than that, so there the sparse path wins at any density that matters.)
 */
function preferSparse(nnz: number, m: number, d_sae: number): boolean {
  if (backendInfo().name === "cpu") return nnz < m * d_sae;
  return nnz * 32 * matmulThreads() < m * d_sae;
}

/**
 * x̂ for CSR rows [r0, r0 + m) into `out` [m, d_in] (host). `pass` holds the decoder for the sparse path (null when it
 * did not fit: then the matmul runs). `denseF`, when given, is the same rows as a dense tensor already on the backend
 * (the tfjs encode path has it), saving the rebuild if the dense path is taken; it is not disposed here.
 */
export function decodeRows(sae: Sae, csr: CsrRows, r0: number, m: number, out: Float32Array, path: DecodePath = "auto",
  pass: KernelPass | null, denseF?: tf.Tensor2D): void {
  const nnz = csr.rowPtr[r0 + m] - csr.rowPtr[r0];
  if (pass?.canDecode && path !== "dense" && (path === "sparse" || preferSparse(nnz, m, sae.d_sae))) {
    // rowPtr from r0 on indexes the same indices/values arrays, so the chunk is a view, not a copy.
    pass.decodeRows({ rows: m, ptr: csr.rowPtr.subarray(r0, r0 + m + 1), idx: csr.indices, val: csr.values }, out);
    return;
  }
  const f = denseF ?? denseFromCsr(csr, sae.d_sae, r0, m);
  const recon = decodeDense(sae, f);
  if (!denseF) f.dispose();
  out.set(recon.dataSync() as Float32Array);
  recon.dispose();
}
