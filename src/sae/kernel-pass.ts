// The SAE forward on the host with the trainer's WebAssembly SIMD kernels (src/train/kernels.ts, sparse.ts), for
// topk, relu and jumprelu SAEs. Per chunk of rows: pre = xin·W_enc into a host buffer (OpenBLAS sgemm straight on
// the weights in the wasm heap under wasm-blas, a tfjs matMul elsewhere), then one SIMD pass per row that collects
// the active entries of pre + b_enc directly as sparse rows (TopK: the k largest positive ones), then the decode as
// one SIMD axpy per active latent. No [rows, d_sae] tensor is built, sorted or scattered on the backend, and only
// the k ≪ d_sae active entries per row are ever copied.
//
// Why: with tfjs, a TopK SAE of 8192 latents spent ~90% of its forward in tf.topk, scatterND back to a dense
// [rows, 8192] f, its host copy and the scan of that copy into sparse rows; the encoder matmul itself is ~10%.
//
// Everything the kernels touch lives in one KernelArena (a WebAssembly.Memory below 4 GiB), with a copy of the decoder
// weights. The last pass is kept between calls (`acquire`/`release`): analyses call forward on one SAE many times in
// blocks of rows, and a fresh arena costs its page faults (~2 ms per MiB measured in this VM) plus the W_dec copy on
// every call. Another SAE reuses the kept arena's memory when it is large enough; `forget` drops it with the SAE.
import { backendInfo, loadNativeBlas, matMul, NativeBlas, tf, wasmHeapView } from "../backend/index";
import { KernelArena, MAX_ARENA_BYTES } from "../train/kernels";
import { CsrView, RowScratch, SparseActs, decode, selectAboveThreshold, selectTopK } from "../train/sparse";
import type { SaeView as Sae } from "./types";

/** A host copy-free read of a weight where the backend allows it (read before any other tfjs allocation). */
function hostData(t: tf.Tensor): Float32Array {
  return wasmHeapView(t) ?? (t.dataSync() as Float32Array);
}

interface EncodeBuffers {
  bEnc: Float32Array;
  /** Entries of pre + b_enc must exceed this per latent (relu: 0, jumprelu: max(θ, 0)); unused by topk. */
  above: Float32Array;
  xin: Float32Array;
  pre: Float32Array;
  scratch: RowScratch;
  acts: SparseActs;
  /** OpenBLAS when the backend is wasm-blas (W_enc is then in the wasm heap), else null: tfjs runs the matmul. */
  blas: NativeBlas | null;
}

interface DecodeBuffers {
  Wdec: Float32Array;
  out: Float32Array;
}

export interface PassParts {
  /** Encoder buffers (only for the architectures the kernels encode: see `KernelPass.encodes`). */
  encode: boolean;
  /** Decoder buffers (a copy of W_dec). */
  decode: boolean;
}

/** Parts normalised to what the architecture allows. */
function partsFor(sae: Sae, parts: PassParts): PassParts {
  return { encode: parts.encode && KernelPass.encodes(sae), decode: parts.decode };
}

/** The pass released last: reused by the next `acquire` for the same SAE, or its arena for another SAE. */
let idle: KernelPass | null = null;

/** The state of the kernel path for one SAE: the arena with the decoder and/or encoder data. */
export class KernelPass {
  private readonly bDec: Float32Array;
  private readonly dec: DecodeBuffers | null;
  private readonly enc: EncodeBuffers | null;

  private constructor(readonly sae: Sae, private readonly arena: KernelArena, readonly chunkRows: number, parts: PassParts) {
    const n = sae.d_sae, d = sae.d_in, C = chunkRows;
    this.bDec = arena.floats(d);
    this.bDec.set(hostData(sae.b_dec));
    if (parts.decode) {
      this.dec = { Wdec: arena.floats(n * d), out: arena.floats(C * d) };
      this.dec.Wdec.set(hostData(sae.W_dec));
    } else {
      this.dec = null;
    }
    if (!parts.encode) {
      this.enc = null;
      return;
    }
    const bEnc = arena.floats(n), above = arena.floats(n);
    bEnc.set(hostData(sae.b_enc!));
    if (sae.architecture === "jumprelu") above.set(hostData(sae.thresholdNonNegative!));
    const blas = backendInfo().name === "wasm-blas" ? loadNativeBlas().blas : null;
    this.enc = {
      bEnc, above, blas, xin: arena.floats(C * d), pre: arena.floats(C * n), scratch: new RowScratch(arena, n),
      acts: new SparseActs(C, C * (sae.architecture === "topk" ? sae.k! : 64)),
    };
  }

  /** Whether the kernel path encodes this architecture (topk, relu, jumprelu; gated runs on tfjs). */
  static encodes(sae: Sae): boolean {
    return sae.architecture === "topk" || sae.architecture === "relu" || sae.architecture === "jumprelu";
  }

  /**
   * The kernel state for chunks of up to `chunkRows` rows with the asked-for parts, dropping the encoder when the
   * architecture is not covered and then whatever does not fit one arena (wasm32: < 4 GiB) — the encoder first, as
   * tfjs can encode but only the kernels decode sparsely. Null when nothing is left.
   */
  static create(sae: Sae, chunkRows: number, parts: PassParts, recycle: KernelArena | null = null): KernelPass | null {
    const n = sae.d_sae, d = sae.d_in, C = Math.max(1, chunkRows);
    const sizes = (p: PassParts): number[] => [d, ...(p.decode ? [n * d, C * d] : []), ...(p.encode ? [n, n, C * d, C * n, n, n] : [])];
    const tries: PassParts[] = [partsFor(sae, parts)];
    if (tries[0].encode && tries[0].decode) tries.push({ encode: false, decode: true });
    for (const p of tries) {
      const bytes = KernelArena.bytesFor(sizes(p));
      if (!(p.encode || p.decode) || bytes > MAX_ARENA_BYTES) continue;
      if (recycle && recycle.bytes >= bytes) {
        recycle.reset();
        return new KernelPass(sae, recycle, C, p);
      }
      return new KernelPass(sae, new KernelArena(bytes), C, p);
    }
    return null;
  }

  /**
   * Like `create`, but takes the kept pass when it serves the same SAE with at least these parts and rows, or recycles
   * its arena. Hand the pass back with `release` when the call is done; until then no other call gets it.
   */
  static acquire(sae: Sae, chunkRows: number, parts: PassParts): KernelPass | null {
    const kept = idle;
    idle = null;
    const want = partsFor(sae, parts);
    if (kept && kept.sae === sae && kept.chunkRows >= chunkRows && (kept.canEncode || !want.encode) && (kept.canDecode || !want.decode)) return kept;
    if (!want.encode && !want.decode) {
      idle = kept; // nothing to make (a gated SAE's encode): keep what was kept
      return null;
    }
    return KernelPass.create(sae, chunkRows, parts, kept?.arena ?? null);
  }

  /** Keeps this pass for the next `acquire` (dropping the one kept before). */
  release(): void {
    idle = this;
  }

  /** Drops the kept pass if it belongs to `sae` (called when the SAE is disposed, freeing the arena with it). */
  static forget(sae: Sae): void {
    if (idle?.sae === sae) idle = null;
  }

  /** Whether `encodeRows` is available (else the caller encodes with tfjs). */
  get canEncode(): boolean {
    return this.enc !== null;
  }

  /** Whether `decodeRows` is available (else the caller runs the matmul). */
  get canDecode(): boolean {
    return this.dec !== null;
  }

  /**
   * The active latents of host rows x [m, d_in] (m ≤ chunkRows, values finite), in latent order within each row.
   * The returned rows are valid until the next call.
   */
  encodeRows(x: Float32Array, m: number): CsrView {
    const e = this.enc;
    if (!e) throw new Error("this KernelPass was made without encoder buffers");
    if (m > this.chunkRows) throw new RangeError(`${m} rows exceed the pass's chunk of ${this.chunkRows}`);
    const { sae, arena } = this;
    const n = sae.d_sae, d = sae.d_in;
    const xin = e.xin.subarray(0, m * d), pre = e.pre.subarray(0, m * n);
    xin.set(x.subarray(0, m * d));
    // x − b_dec as float32, as the tfjs path computes it.
    if (sae.applyBDecToInput) for (let r = 0; r < m; r++) arena.k.axpy(-1, this.bDec.byteOffset, xin.byteOffset + 4 * r * d, d);
    this.encoderProduct(xin, pre, m);
    if (sae.architecture === "topk") selectTopK(arena.k, e.scratch, pre, e.bEnc, m, n, sae.k!, e.acts, 0);
    else selectAboveThreshold(arena.k, e.scratch, pre, e.bEnc, e.above, m, n, e.acts, 0);
    return { rows: m, ptr: e.acts.ptr, idx: e.acts.idx, val: e.acts.val };
  }

  /** pre = xin · W_enc ([m, d_in] · [d_in, d_sae]), on the host. */
  private encoderProduct(xin: Float32Array, pre: Float32Array, m: number): void {
    const { sae } = this;
    const n = sae.d_sae, d = sae.d_in;
    const W = this.enc!.blas ? wasmHeapView(sae.W_enc) : undefined;
    if (W) {
      this.enc!.blas!.sgemm(false, false, m, n, d, 1, xin, d, W, n, 0, pre, n);
      return;
    }
    // tidy must return the tensor, not its data: tidy walks a returned typed array element by element.
    const product = tf.tidy(() => matMul(tf.tensor2d(xin, [m, d]), sae.W_enc));
    try {
      pre.set(product.dataSync() as Float32Array);
    } finally {
      product.dispose();
    }
  }

  /** x̂ = b_dec + Σ v·W_dec[j] over each row's active latents, into `out` [rows.rows, d_in] (rows.rows ≤ chunkRows). */
  decodeRows(rows: CsrView, out: Float32Array): void {
    const b = this.dec;
    if (!b) throw new Error("this KernelPass was made without decoder buffers");
    if (rows.rows > this.chunkRows) throw new RangeError(`${rows.rows} rows exceed the pass's chunk of ${this.chunkRows}`);
    const d = this.sae.d_in;
    decode(this.arena.k, rows, b.Wdec, this.bDec, b.out, d);
    out.set(b.out.subarray(0, rows.rows * d));
  }
}
