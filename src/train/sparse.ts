// Sparse latent activations of a batch and the operations on them: TopK and BatchTopK selection from dense
// pre-activations, decoding, and the backward pass of the decoder and encoder restricted to the active latents.
// Dense arrays are views into a KernelArena; the kernels take their byte offsets.
import type { KernelArena, Kernels } from "./kernels";

/** Rows of active latents: row b holds latents idx[ptr[b] … ptr[b+1]) with values val[…]. */
export interface CsrView {
  readonly rows: number;
  readonly ptr: Int32Array;
  readonly idx: Int32Array;
  readonly val: Float32Array;
}

/** Active latents in compressed-row form: row b holds latents idx[ptr[b] … ptr[b+1]) with values val[…] (all > 0). */
export class SparseActs implements CsrView {
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

/** Scratch arrays in the kernel arena for one row's candidate entries (n of each), and a host work copy of the values. */
export class RowScratch {
  readonly idx: Int32Array;
  readonly val: Float32Array;
  /** For order statistics of the candidates (kthLargest reorders its input). */
  readonly work: Float32Array;
  constructor(arena: KernelArena, readonly n: number) {
    this.idx = arena.ints(n);
    this.val = arena.floats(n);
    this.work = new Float32Array(n);
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

/** Like collectRow, with a threshold per entry: collects the entries with pre + bias > above[j]. */
function collectRowAboveEach(K: Kernels, s: RowScratch, pre: Float32Array, bias: Float32Array, above: Float32Array, row: number, n: number): number {
  const n4 = n & ~3;
  let c = K.collectAboveEach(pre.byteOffset + 4 * row * n, bias.byteOffset, above.byteOffset, n4, s.idx.byteOffset, s.val.byteOffset, n);
  for (let j = n4; j < n; j++) {
    const v = Math.fround(pre[row * n + j] + bias[j]);
    if (v > above[j]) {
      s.idx[c] = j;
      s.val[c] = v;
      c++;
    }
  }
  return c;
}

const SAMPLE = 256;

/**
 * A cut-off that about 4k entries of the row exceed, from the row's first SAMPLE entries (0 when k is too large a
 * share of the row for sampling to help). It only has to be cheap: selectTopK rescans at 0 when it lets fewer than
 * k entries through. The sample is contiguous because latent order carries no meaning (any fixed subset of latents
 * is as good as another), and a strided sample costs a cache miss per entry on rows that are not in cache.
 */
function sampledCutoff(pre: Float32Array, bias: Float32Array, row: number, n: number, k: number, top: Float64Array): number {
  const m = Math.min(n, SAMPLE);
  const r = Math.ceil((4 * k * m) / n);
  if (r >= m || r > top.length) return 0;
  let filled = 0; // top[0 … filled) holds the largest sampled values, descending
  for (let j = 0; j < m; j++) {
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
 * Ties keep the lower latent index, so a row keeps exactly min(k, #positive) entries; within a row they are in
 * ascending latent order.
 */
export function selectTopK(K: Kernels, scratch: RowScratch, pre: Float32Array, bias: Float32Array, rows: number, n: number,
  k: number, out: SparseActs, rowStart: number): void {
  const top = new Float64Array(32);
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
    // The k-th largest candidate value (quickselect on a copy); keep every candidate above it and, of those equal to
    // it, the lowest latents up to k in all. One pass over the candidates (in index order) writes them in that order.
    const work = scratch.work.subarray(0, c);
    work.set(cVal.subarray(0, c));
    const least = kthLargest(work, k);
    let ties = k;
    for (let q = 0; q < c; q++) if (cVal[q] > least) ties--;
    for (let q = 0; q < c; q++) {
      const v = cVal[q];
      if (v > least || (v === least && ties > 0)) {
        if (v === least) ties--;
        idx[nnz] = cIdx[q];
        val[nnz] = v;
        nnz++;
      }
    }
  }
  out.ptr[rowStart + rows] = nnz;
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
export function decode(K: Kernels, acts: CsrView, W: Float32Array, bias: Float32Array | null, out: Float32Array, d: number): void {
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
 * ReLU and JumpReLU selection: every entry with pre + bias > above[j] (float32 sum, exact comparison), written in
 * latent order as rows rowStart … rowStart+rows−1 of `out`. Pass above = max(θ, 0) for JumpReLU
 * (relu(v)·1[v > θ] = v·1[v > max(θ, 0)]) and zeros for ReLU.
 */
export function selectAboveThreshold(K: Kernels, scratch: RowScratch, pre: Float32Array, bias: Float32Array, above: Float32Array,
  rows: number, n: number, out: SparseActs, rowStart: number): void {
  let nnz = out.ptr[rowStart];
  for (let b = 0; b < rows; b++) {
    out.ptr[rowStart + b] = nnz;
    const c = collectRowAboveEach(K, scratch, pre, bias, above, b, n);
    out.reserve(nnz + c, nnz);
    out.idx.set(scratch.idx.subarray(0, c), nnz);
    out.val.set(scratch.val.subarray(0, c), nnz);
    nnz += c;
  }
  out.ptr[rowStart + rows] = nnz;
}
