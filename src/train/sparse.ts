// Sparse latent activations of a batch and the operations on them: TopK and BatchTopK selection from dense
// pre-activations, decoding, and the backward pass of the decoder and encoder restricted to the active latents.
// Dense arrays are views into a KernelArena; the kernels take their byte offsets.
import type { KernelArena, Kernels } from "./kernels";

/** Active latents in compressed-row form: row b holds latents idx[ptr[b] … ptr[b+1]) with values val[…] (all > 0). */
export class SparseActs {
  ptr: Int32Array;
  idx: Int32Array;
  val: Float32Array;

  constructor(readonly rows: number, capacity: number) {
    this.ptr = new Int32Array(rows + 1);
    this.idx = new Int32Array(capacity);
    this.val = new Float32Array(capacity);
  }

  /** Number of active entries. */
  get nnz(): number { return this.ptr[this.rows]; }

  /** Makes room for `capacity` entries, keeping the first `keep`. */
  reserve(capacity: number, keep: number): void {
    if (capacity <= this.idx.length) return;
    const size = Math.max(capacity, Math.ceil(this.idx.length * 1.5));
    const idx = new Int32Array(size), val = new Float32Array(size);
    idx.set(this.idx.subarray(0, keep));
    val.set(this.val.subarray(0, keep));
    this.idx = idx;
    this.val = val;
  }
}

/** Scratch arrays in the kernel arena for one row's candidate entries (n of each). */
export class RowScratch {
  readonly idx: Int32Array;
  readonly val: Float32Array;
  constructor(arena: KernelArena, readonly n: number) {
    this.idx = arena.ints(n);
    this.val = arena.floats(n);
  }
}

/**
 * Collects the entries of row `row` of pre (+ bias) that exceed `thr` into the scratch (index order) and returns how
 * many there are (the SIMD kernel does groups of 4; the last n mod 4 entries are done here).
 */
function collectRow(K: Kernels, s: RowScratch, pre: Float32Array, bias: Float32Array, row: number, n: number, thr: number): number {
  const n4 = n & ~3;
  let c = K.collectAbove(pre.byteOffset + 4 * row * n, bias.byteOffset, n4, thr, s.idx.byteOffset, s.val.byteOffset, n);
  for (let j = n4; j < n; j++) {
    const v = Math.fround(pre[row * n + j] + bias[j]);
    if (v > thr) {
      s.idx[c] = j;
      s.val[c] = v;
      c++;
    }
  }
  return c;
}

const SAMPLE = 256;

/**
 * A cut-off that about 4k entries of the row exceed, from a strided sample of SAMPLE entries (0 when k is too large
 * a share of the row for sampling to help). It only has to be cheap: selectTopK rescans at 0 when it lets fewer than
 * k entries through.
 */
function sampledCutoff(pre: Float32Array, bias: Float32Array, row: number, n: number, k: number, top: Float64Array): number {
  const m = Math.min(n, SAMPLE);
  const r = Math.ceil((4 * k * m) / n);
  if (r >= m || r > top.length) return 0;
  let filled = 0; // top[0 … filled) holds the largest sampled values, descending
  for (let s = 0; s < m; s++) {
    const j = Math.floor((s * n) / m);
    const v = pre[row * n + j] + bias[j];
    if (filled === r && !(v > top[r - 1])) continue;
    let pos = filled < r ? filled++ : r - 1;
    while (pos > 0 && top[pos - 1] < v) {
      top[pos] = top[pos - 1];
      pos--;
    }
    top[pos] = v;
  }
  return Math.max(0, top[r - 1]);
}

/**
 * Per row, the k largest entries of relu(pre + bias) (entries that are not > 0 never count), written as rows
 * rowStart … rowStart+rows−1 of `out` (rows before rowStart must already be filled). `pre` is [rows, n];
 * a bias of −Infinity excludes a latent (AuxK uses that to restrict the choice to dead latents).
 * Ties keep the lower latent index. Within a row, entries are in no particular order.
 */
export function selectTopK(K: Kernels, scratch: RowScratch, pre: Float32Array, bias: Float32Array, rows: number, n: number,
  k: number, out: SparseActs, rowStart: number): void {
  const heapVal = new Float64Array(k), heapIdx = new Int32Array(k), top = new Float64Array(32);
  let nnz = out.ptr[rowStart];
  out.reserve(nnz + rows * k, nnz);
  const { idx, val } = out;
  const cIdx = scratch.idx, cVal = scratch.val;
  for (let b = 0; b < rows; b++) {
    const cut = sampledCutoff(pre, bias, b, n, k, top);
    let c = collectRow(K, scratch, pre, bias, b, n, cut);
    if (c < k && cut > 0) c = collectRow(K, scratch, pre, bias, b, n, 0);
    out.ptr[rowStart + b] = nnz;
    if (c <= k) {
      idx.set(cIdx.subarray(0, c), nnz);
      val.set(cVal.subarray(0, c), nnz);
      nnz += c;
      continue;
    }
    // The k largest candidates: a min-heap of size k over the candidates in index order (strict > keeps the
    // lower index on ties).
    for (let s = 0; s < k; s++) {
      heapVal[s] = cVal[s];
      heapIdx[s] = cIdx[s];
    }
    for (let s = (k >> 1) - 1; s >= 0; s--) siftDown(heapVal, heapIdx, k, s);
    for (let q = k; q < c; q++) {
      const v = cVal[q];
      if (v > heapVal[0]) {
        heapVal[0] = v;
        heapIdx[0] = cIdx[q];
        siftDown(heapVal, heapIdx, k, 0);
      }
    }
    idx.set(heapIdx, nnz);
    for (let s = 0; s < k; s++) val[nnz + s] = heapVal[s];
    nnz += k;
  }
  out.ptr[rowStart + rows] = nnz;
}

/** Restores the min-heap property below position `pos` (ties: the larger index sinks, so it is evicted first). */
function siftDown(hv: Float64Array, hi: Int32Array, size: number, pos: number): void {
  const v = hv[pos], j = hi[pos];
  for (;;) {
    let c = 2 * pos + 1;
    if (c >= size) break;
    if (c + 1 < size && (hv[c + 1] < hv[c] || (hv[c + 1] === hv[c] && hi[c + 1] > hi[c]))) c++;
    if (hv[c] > v || (hv[c] === v && hi[c] < j)) break;
    hv[pos] = hv[c];
    hi[pos] = hi[c];
    pos = c;
  }
  hv[pos] = v;
  hi[pos] = j;
}

/**
 * BatchTopK selection: the `keep` largest entries of relu(pre + bias) over a whole batch (BatchTopK, Bussmann et al.
 * 2024), scanned chunk by chunk. Only entries above a floor are collected; the floor is half the previous batch's
 * cut-off, and if fewer than `keep` entries clear it the caller rescans with floor 0 (`finish` reports that).
 */
export class BatchTopKSelector {
  private flat = new Int32Array(0);
  private vals = new Float32Array(0);
  private count = 0;
  floor = 0;
  /** The smallest kept activation of the last finished batch (the BatchTopK threshold estimate for that batch). */
  lastCutoff = 0;

  constructor(private readonly K: Kernels, private readonly scratch: RowScratch, readonly n: number) {}

  begin(floor: number): void {
    this.floor = floor;
    this.count = 0;
  }

  private grow(size: number): void {
    const cap = Math.max(size, 1024, Math.ceil(this.flat.length * 1.5));
    const flat = new Int32Array(cap), vals = new Float32Array(cap);
    flat.set(this.flat.subarray(0, this.count));
    vals.set(this.vals.subarray(0, this.count));
    this.flat = flat;
    this.vals = vals;
  }

  /** Collects the entries of rows rowStart … rowStart+rows−1 (pre is [rows, n]) that exceed the floor. */
  scan(pre: Float32Array, bias: Float32Array, rows: number, rowStart: number): void {
    const n = this.n, s = this.scratch;
    for (let b = 0; b < rows; b++) {
      const c = collectRow(this.K, s, pre, bias, b, n, this.floor);
      if (this.count + c > this.flat.length) this.grow(this.count + c);
      const base = (rowStart + b) * n;
      for (let q = 0; q < c; q++) this.flat[this.count + q] = base + s.idx[q];
      this.vals.set(s.val.subarray(0, c), this.count);
      this.count += c;
    }
  }

  /**
   * Writes the kept entries to `out` (all rows). Returns false, writing nothing, when the floor was above zero and
   * fewer than `keep` entries cleared it (the caller must rescan with floor 0). Ties at the cut-off keep the
   * earliest entries in row-major order, so exactly min(keep, #positive) entries are kept.
   */
  finish(keep: number, out: SparseActs): boolean {
    if (this.count < keep && this.floor > 0) return false;
    let cutoff = -Infinity, atCutoff = 0; // keep all v > cutoff and the first `atCutoff` entries equal to it
    if (this.count > keep) {
      cutoff = kthLargest(this.vals.slice(0, this.count), keep);
      let above = 0;
      for (let i = 0; i < this.count; i++) if (this.vals[i] > cutoff) above++;
      atCutoff = keep - above;
    }
    out.reserve(Math.min(this.count, keep), 0);
    const n = this.n;
    let nnz = 0, row = 0, minKept = Infinity;
    out.ptr[0] = 0;
    for (let i = 0; i < this.count; i++) {
      const v = this.vals[i];
      if (!(v > cutoff || (v === cutoff && atCutoff > 0))) continue;
      if (v === cutoff) atCutoff--;
      const r = Math.floor(this.flat[i] / n);
      while (row < r) out.ptr[++row] = nnz;
      out.idx[nnz] = this.flat[i] - r * n;
      out.val[nnz] = v;
      if (v < minKept) minKept = v;
      nnz++;
    }
    while (row < out.rows) out.ptr[++row] = nnz;
    this.lastCutoff = nnz > 0 ? minKept : 0;
    return true;
  }
}

/** The k-th largest value (1-based) of `a`, reordering `a` in place (quickselect with median-of-three pivots). */
export function kthLargest(a: Float32Array, k: number): number {
  let lo = 0, hi = a.length - 1;
  const target = k - 1; // position in descending order
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    const x = a[lo], y = a[mid], z = a[hi];
    const pivot = x > y ? (y > z ? y : x > z ? z : x) : (x > z ? x : y > z ? z : y);
    let i = lo, j = hi;
    while (i <= j) {
      while (a[i] > pivot) i++;
      while (a[j] < pivot) j--;
      if (i <= j) {
        const t = a[i]; a[i] = a[j]; a[j] = t;
        i++; j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return a[target];
  }
  return a[target];
}

/** out[b] = bias + Σ val·W[idx] over row b's active latents (bias null: no bias). W is [n, d], out is [rows, d]. */
export function decode(K: Kernels, acts: SparseActs, W: Float32Array, bias: Float32Array | null, out: Float32Array, d: number): void {
  const rowBytes = 4 * d;
  const { ptr, idx, val } = acts;
  for (let b = 0; b < acts.rows; b++) {
    const o = b * d;
    if (bias) out.set(bias.subarray(0, d), o);
    else out.fill(0, o, o + d);
    const outPtr = out.byteOffset + b * rowBytes;
    for (let p = ptr[b]; p < ptr[b + 1]; p++) K.axpy(val[p], W.byteOffset + idx[p] * rowBytes, outPtr, d);
  }
}

/**
 * The backward pass of x̂ = Σ f·W_dec through the active latents, given g = ∂loss/∂x̂ [rows, d]:
 *   ∂W_dec[j] += f_bj · g_b;   ∂pre_bj = g_b · W_dec[j];   ∂W_encᵀ[j] += ∂pre_bj · xc_b;   ∂b_enc[j] += ∂pre_bj,
 * summed over the (b, j) pairs of `acts`. The TopK mask is piecewise constant and ReLU passes positive values, so
 * the gradient reaches only the kept entries. xc = x − b_dec is the encoder input.
 */
export function backwardActive(K: Kernels, acts: SparseActs, g: Float32Array, xc: Float32Array, Wdec: Float32Array,
  gWdec: Float32Array, gWencT: Float32Array, gBenc: Float64Array, d: number): void {
  const rowBytes = 4 * d;
  const { ptr, idx, val } = acts;
  for (let b = 0; b < acts.rows; b++) {
    const gRow = g.byteOffset + b * rowBytes, xRow = xc.byteOffset + b * rowBytes;
    for (let p = ptr[b]; p < ptr[b + 1]; p++) {
      const j = idx[p], w = j * rowBytes;
      const dPre = K.dotAxpy(val[p], gRow, gWdec.byteOffset + w, Wdec.byteOffset + w, d);
      if (dPre !== 0) {
        K.axpy(dPre, xRow, gWencT.byteOffset + w, d);
        gBenc[j] += dPre;
      }
    }
  }
}

/**
 * JumpReLU selection: every entry with pre + bias > threshold (per latent) and > 0, written as rows
 * rowStart … rowStart+rows−1 of `out`. `shifted` must hold bias − threshold: the kernel lets through the entries with
 * pre + shifted > 0, and the exact test is redone on those.
 */
export function selectAboveThreshold(K: Kernels, scratch: RowScratch, pre: Float32Array, bias: Float32Array, threshold: Float32Array,
  shifted: Float32Array, rows: number, n: number, out: SparseActs, rowStart: number): void {
  let nnz = out.ptr[rowStart];
  for (let b = 0; b < rows; b++) {
    out.ptr[rowStart + b] = nnz;
    const c = collectRow(K, scratch, pre, shifted, b, n, 0);
    out.reserve(nnz + c, nnz);
    for (let q = 0; q < c; q++) {
      const j = scratch.idx[q];
      const v = Math.fround(pre[b * n + j] + bias[j]);
      if (v > threshold[j] && v > 0) {
        out.idx[nnz] = j;
        out.val[nnz] = v;
        nnz++;
      }
    }
  }
  out.ptr[rowStart + rows] = nnz;
}
