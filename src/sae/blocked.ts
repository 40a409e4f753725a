// The SAE forward for SAEs of any width: weights stay in their file and are read in latent blocks into host memory
// (outside the wasm heap), never more than the weight budget at once (block-plan.ts).
//
// Per chunk of token rows: for each latent block, pre = (x − b_dec·apply) · W_enc[:, block] with native sgemm, then
// the architecture's rule on the block's entries: relu/jumprelu/gated entries go straight into sparse rows (blocks
// run in latent order, so each row's latents stay ascending); TopK keeps a running top-k per row (a min-heap whose
// root is the weakest kept entry, ties broken toward the lower latent as tf.topk does). Then the decode reads, block
// by block, only the decoder rows of latents that are active somewhere in the chunk (the whole block when many are)
// and adds v·W_dec[j] per active entry, in the same order as the whole-matrix path.
//
// Strided blocks of a deflated .npz member would cost a decompression of the whole member per block, so such a
// matrix is first rewritten once, block by block, into a temporary file (deleted on dispose).
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadNativeBlas, NativeBlas, tf } from "../backend/index";
import { InputError } from "../errors";
import type { TensorFile } from "../io/index";
import { BlockPlan, BudgetAllocator, planBlocks, weightBudgetBytes } from "./block-plan";
import { SaePlan, WeightPlan, closePlan, readPlannedWeight } from "./formats/plan";
import { FvuAccumulator } from "./fvu";
import type { ForwardOptions, ForwardResult, SaeInput } from "./forward";
import type { Architecture, SaeMetadata } from "./model";
import type { SparseLatents } from "./sparse";

export interface BlockedOptions {
  /** Bytes of weights and block buffers in flight (default: weightBudgetBytes()). */
  budgetBytes?: number;
  /** Force latents per block (tests). */
  latentBlock?: number;
  /** Cap on token rows per chunk. */
  maxChunkRows?: number;
}

/** One weight matrix read latent block by latent block. */
class MatrixBlocks {
  /** Whether a latent is a row of the stored matrix ([n, d]) rather than a column ([d, n]). */
  readonly latentIsRow: boolean;
  private readonly file: TensorFile;
  private readonly tensor: string;
  private readonly scale: number;
  private readonly rowScale: Float32Array | null;
  private spill: { file: string; fd: number; B: number } | null = null;

  constructor(w: WeightPlan, canonicalLatentIsRow: boolean, private readonly d: number, private readonly n: number, rowScale: Float32Array | null) {
    if (!w.file || !w.tensor) throw new InputError("SAE plan", "a weight matrix must come from a file");
    this.file = w.file;
    this.tensor = w.tensor;
    this.latentIsRow = w.transposed ? !canonicalLatentIsRow : canonicalLatentIsRow;
    this.scale = w.scale ?? 1;
    this.rowScale = rowScale;
  }

  get source(): string { return `${this.file.path} (tensor "${this.tensor}")`; }

  /** Whether single latents can be read without reading their block (stored bytes, latent per row). */
  get rowAccess(): boolean { return this.latentIsRow && this.file.randomAccess(this.tensor); }

  /**
   * Column-stored matrices in a deflated member: rewrites them as [d, B] tiles per block of B latents into a temp
   * file, reading the member once front to back in row chunks that fit `stagingBytes`.
   */
  prepare(B: number, alloc: BudgetAllocator, stagingBytes: number): void {
    if (this.latentIsRow || this.file.randomAccess(this.tensor)) return;
    const { d, n } = this;
    const R = Math.max(1, Math.min(d, Math.floor(stagingBytes / (4 * (n + B)))));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "darkmatter-blocks-"));
    const file = path.join(dir, "tiles.f32");
    const fd = fs.openSync(file, "w+");
    this.spill = { file, fd, B };
    const rows = alloc.floats(R * n, `staging rows of ${this.source}`);
    const tile = alloc.floats(R * B, `a staging tile of ${this.source}`);
    try {
      for (let r0 = 0; r0 < d; r0 += R) {
        const m = Math.min(R, d - r0);
        this.file.readColumnsFloat32Into(this.tensor, r0, m, 0, n, rows);
        for (let j0 = 0; j0 < n; j0 += B) {
          const Bb = Math.min(B, n - j0);
          for (let r = 0; r < m; r++) tile.set(rows.subarray(r * n + j0, r * n + j0 + Bb), r * Bb);
          const bytes = new Uint8Array(tile.buffer, 0, 4 * m * Bb);
          writeAllAt(fd, bytes, 4 * (d * j0 + r0 * Bb));
        }
      }
    } finally {
      alloc.release(rows);
      alloc.release(tile);
    }
  }

  /** Latents [j0, j0 + Bb) as stored: [Bb, d] when latentIsRow, else [d, Bb]; scaled as planned. */
  read(j0: number, Bb: number, out: Float32Array): void {
    const { d } = this;
    if (this.latentIsRow) {
      this.file.readColumnsFloat32Into(this.tensor, j0, Bb, 0, d, out);
    } else if (this.spill) {
      if (j0 % this.spill.B !== 0 || (Bb !== this.spill.B && j0 + Bb !== this.n)) throw new Error("internal: block does not match the spilled tiles");
      readAllAt(this.spill.fd, new Uint8Array(out.buffer, out.byteOffset, 4 * d * Bb), 4 * d * j0);
    } else {
      this.file.readColumnsFloat32Into(this.tensor, 0, d, j0, Bb, out);
    }
    this.convert(out, j0, Bb, (i) => (this.latentIsRow ? Math.floor(i / d) : i % Bb));
  }

  /** Latent j's row ([d]) into out (rowAccess only). */
  readLatent(j: number, out: Float32Array): void {
    this.file.readColumnsFloat32Into(this.tensor, j, 1, 0, this.d, out);
    this.convert(out.subarray(0, this.d), j, 1, () => 0);
  }

  private convert(out: Float32Array, j0: number, Bb: number, latentOf: (i: number) => number): void {
    const len = this.d * Bb, s = this.scale, rs = this.rowScale;
    if (s !== 1) for (let i = 0; i < len; i++) out[i] *= s;
    if (rs) {
      for (let i = 0; i < len; i++) out[i] *= rs[j0 + latentOf(i)];
      for (let i = 0; i < len; i++) if (!Number.isFinite(out[i])) throw new InputError(this.source, "becomes non-finite after its row scaling");
    }
  }

  close(): void {
    if (!this.spill) return;
    fs.closeSync(this.spill.fd);
    fs.rmSync(path.dirname(this.spill.file), { recursive: true, force: true });
    this.spill = null;
  }
}

function writeAllAt(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done, position + done);
}

function readAllAt(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) {
    const got = fs.readSync(fd, bytes, done, bytes.length - done, position + done);
    if (got === 0) throw new Error("internal: spilled tiles end early");
    done += got;
  }
}

/** Growable (row, latent, value) triples of one chunk. */
class Entries {
  row = new Int32Array(1024);
  idx = new Int32Array(1024);
  val = new Float32Array(1024);
  n = 0;
  push(r: number, j: number, v: number): void {
    if (this.n === this.row.length) {
      const cap = this.n * 2;
      if (cap > 2 ** 31 - 1) throw new InputError("input", "more than 2^31 active latents in one chunk");
      const row = new Int32Array(cap); row.set(this.row); this.row = row;
      const idx = new Int32Array(cap); idx.set(this.idx); this.idx = idx;
      const val = new Float32Array(cap); val.set(this.val); this.val = val;
    }
    this.row[this.n] = r; this.idx[this.n] = j; this.val[this.n] = v; this.n++;
  }
}

interface ChunkCsr { ptr: Int32Array; idx: Int32Array; val: Float32Array }

/** An SAE whose weights are read from their file in latent blocks on every forward; see the file comment. */
export class BlockedSae {
  readonly architecture: Architecture;
  readonly d_in: number;
  readonly d_sae: number;
  readonly k: number | undefined;
  readonly applyBDecToInput: boolean;
  readonly metadata: SaeMetadata;
  readonly blockPlan: BlockPlan;
  readonly allocator: BudgetAllocator;
  private readonly enc: MatrixBlocks;
  private readonly dec: MatrixBlocks;
  private readonly bDec: Float32Array;
  /** relu/jumprelu/topk: b_enc; gated: b_gate. */
  private readonly bias: Float32Array;
  /** jumprelu: max(θ, 0); gated: b_mag. */
  private readonly second: Float32Array | null;
  /** gated: exp(r_mag). */
  private readonly magScale: Float32Array | null;
  private readonly encBuf: Float32Array;
  private readonly decBuf: Float32Array;
  private readonly staging: Float32Array | null;
  private readonly pre: Float32Array;
  private readonly heapVal: Float32Array | null;
  private readonly heapIdx: Int32Array | null;
  private readonly blas: NativeBlas | null;
  /** With a single block the weights are read once and kept. */
  private encLoaded = false;
  private decLoaded = false;
  private closed = false;

  /** Takes ownership of the plan's files (closed by dispose). */
  constructor(private readonly plan: SaePlan, options: BlockedOptions = {}) {
    const source = plan.metadata.path;
    let enc: MatrixBlocks | undefined, dec: MatrixBlocks | undefined;
    try {
      this.architecture = plan.architecture;
      this.d_in = plan.d_in;
      this.d_sae = plan.d_sae;
      this.k = plan.k;
      this.applyBDecToInput = plan.applyBDecToInput;
      const m = Object.fromEntries(Object.entries(plan.metadata).filter(([, v]) => v !== undefined)) as Partial<SaeMetadata>;
      this.metadata = { ...m, format: plan.metadata.format, inputScale: m.inputScale ?? 1, conversions: [...(m.conversions ?? [])], provenance: { ...(m.provenance ?? {}) } };
      const d = plan.d_in, n = plan.d_sae;
      const budget = weightBudgetBytes(options.budgetBytes);
      const W = plan.weights;
      const decByColumns = W.W_dec!.transposed === true;
      this.blockPlan = planBlocks({
        d_in: d, d_sae: n, k: plan.architecture === "topk" ? plan.k : undefined, budgetBytes: budget,
        latentBlock: options.latentBlock, maxChunkRows: options.maxChunkRows, decoderByColumns: decByColumns,
      });
      const alloc = this.allocator = new BudgetAllocator(budget, source);
      const vector = (name: keyof SaePlan["weights"], what: string): Float32Array => {
        const v = readPlannedWeight(W[name]!);
        const out = alloc.floats(name === "b_dec" ? d : n, what);
        if (v.length === 1 && out.length !== 1) out.fill(v[0]); else out.set(v);
        return out;
      };
      this.bDec = vector("b_dec", "b_dec");
      let rowScale: Float32Array | null = null;
      if (W.W_dec!.rowScale) {
        rowScale = alloc.floats(n, "the decoder row scale");
        rowScale.set(W.W_dec!.rowScale.file.readFloat32(W.W_dec!.rowScale.tensor));
      }
      if (plan.architecture === "gated") {
        this.bias = vector("b_gate", "b_gate");
        this.second = vector("b_mag", "b_mag");
        this.magScale = vector("r_mag", "exp(r_mag)");
        for (let j = 0; j < n; j++) this.magScale[j] = Math.exp(this.magScale[j]);
      } else {
        this.bias = vector("b_enc", "b_enc");
        this.magScale = null;
        if (plan.architecture === "jumprelu") {
          this.second = vector("threshold", "threshold");
          for (let j = 0; j < n; j++) this.second[j] = Math.max(this.second[j], 0);
        } else {
          this.second = null;
        }
      }
      this.enc = enc = new MatrixBlocks(W.W_enc!, false, d, n, null);
      this.dec = dec = new MatrixBlocks(W.W_dec!, true, d, n, rowScale);
      const { latentBlock: B, chunkRows: C } = this.blockPlan;
      const blockBytes = this.blockPlan.bytes.encoderBlock + this.blockPlan.bytes.decoderBlock + this.blockPlan.bytes.staging + this.blockPlan.bytes.pre;
      this.enc.prepare(B, alloc, blockBytes);
      this.dec.prepare(B, alloc, blockBytes);
      this.encBuf = alloc.floats(d * B, "an encoder block");
      this.decBuf = alloc.floats(B * d, "a decoder block");
      this.staging = this.dec.latentIsRow ? null : alloc.floats(d * B, "a decoder staging block");
      this.pre = alloc.floats(C * B, "pre-activations of a block");
      const k = plan.architecture === "topk" ? plan.k! : 0;
      this.heapVal = k ? alloc.floats(C * k, "running top-k values") : null;
      this.heapIdx = k ? alloc.ints(C * k, "running top-k latents") : null;
      this.blas = loadNativeBlas().blas;
    } catch (e) {
      enc?.close();
      dec?.close();
      closePlan(plan);
      throw e;
    }
  }

  /** Encode, decode and measure host rows [n, d_in] (or a tensor); the same result as `Sae.forward`. */
  forward(x: SaeInput, options: ForwardOptions = {}): ForwardResult {
    this.checkAlive();
    const host = this.hostRows(x);
    const d = this.d_in, rows = host.length / d;
    const keep = options.latents ?? true;
    const C = Math.min(this.blockPlan.chunkRows, options.chunkRows ?? Infinity);
    const reconstruction = new Float32Array(rows * d), error = new Float32Array(rows * d), l0 = new Int32Array(rows);
    const kept: ChunkCsr[] = [];
    const stats = new FvuAccumulator(d);
    const xin = new Float32Array(Math.min(C, rows) * d);
    for (let r0 = 0; r0 < rows; r0 += C) {
      const m = Math.min(C, rows - r0);
      const xc = host.subarray(r0 * d, (r0 + m) * d);
      const csr = this.encodeChunk(xc, m, xin);
      const xhat = reconstruction.subarray(r0 * d, (r0 + m) * d);
      this.decodeChunk(csr, m, xhat);
      const e = error.subarray(r0 * d, (r0 + m) * d);
      for (let i = 0; i < e.length; i++) e[i] = xc[i] - xhat[i];
      stats.add(xc, e);
      for (let r = 0; r < m; r++) l0[r0 + r] = csr.ptr[r + 1] - csr.ptr[r];
      if (keep) kept.push(csr);
      options.progress?.(r0 + m, rows, "SAE forward (blocked)");
    }
    if (!Number.isFinite(stats.residualSumOfSquares)) {
      throw new InputError("input", "the reconstruction overflowed float32 (inputs far outside the SAE's range?)");
    }
    let total = 0;
    for (let i = 0; i < rows; i++) total += l0[i];
    return {
      rows, d_in: d, reconstruction, error, latents: keep ? this.join(kept, rows) : undefined, l0,
      meanL0: rows > 0 ? total / rows : NaN, fvu: stats.fvu(),
    };
  }

  /** Active latents only. */
  encode(x: SaeInput, options: ForwardOptions = {}): SparseLatents {
    this.checkAlive();
    const host = this.hostRows(x);
    const d = this.d_in, rows = host.length / d;
    const C = Math.min(this.blockPlan.chunkRows, options.chunkRows ?? Infinity);
    const xin = new Float32Array(Math.min(C, rows) * d);
    const kept: ChunkCsr[] = [];
    for (let r0 = 0; r0 < rows; r0 += C) {
      const m = Math.min(C, rows - r0);
      kept.push(this.encodeChunk(host.subarray(r0 * d, (r0 + m) * d), m, xin));
      options.progress?.(r0 + m, rows, "SAE encode (blocked)");
    }
    return this.join(kept, rows);
  }

  /** Closes the weight files and deletes any temporary tiles. The SAE cannot be used afterwards. */
  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    this.enc.close();
    this.dec.close();
    closePlan(this.plan);
  }

  private checkAlive(): void {
    if (this.closed) throw new Error("this SAE was disposed");
  }

  private hostRows(x: SaeInput): Float32Array {
    const d = this.d_in;
    let host: Float32Array;
    if (x instanceof Float32Array) {
      host = x;
    } else if (x instanceof tf.Tensor && x.rank === 2) {
      if (x.shape[1] !== d) throw new InputError("input", `has ${x.shape[1]} columns but the SAE's d_in is ${d}`);
      if (x.dtype !== "float32") throw new InputError("input", `must be float32, got ${x.dtype}`);
      host = x.dataSync() as Float32Array;
    } else {
      throw new InputError("input", "must be a Float32Array or a rank-2 tensor [n, d_in]");
    }
    if (host.length % d !== 0) throw new InputError("input", `${host.length} values are not a whole number of rows of d_in = ${d}`);
    for (let i = 0; i < host.length; i++) {
      if (!Number.isFinite(host[i])) throw new InputError("input", `row ${Math.floor(i / d)} has a non-finite value (${host[i]}) in column ${i % d}`);
    }
    return host;
  }

  private join(chunks: ChunkCsr[], rows: number): SparseLatents {
    let nnz = 0;
    for (const c of chunks) nnz += c.idx.length;
    const rowPtr = new Int32Array(rows + 1), indices = new Int32Array(nnz), values = new Float32Array(nnz);
    let r = 0, p = 0;
    for (const c of chunks) {
      indices.set(c.idx, p);
      values.set(c.val, p);
      for (let i = 1; i < c.ptr.length; i++) rowPtr[++r] = p + c.ptr[i];
      p += c.idx.length;
    }
    return { rows, d_sae: this.d_sae, rowPtr, indices, values };
  }

  /** pre[m, Bb] = xin · (encoder block). */
  private encoderProduct(xin: Float32Array, m: number, Bb: number): void {
    const d = this.d_in, W = this.encBuf, row = this.enc.latentIsRow;
    if (this.blas) {
      // Stored [Bb, d] (latent rows) multiplies as its transpose; stored [d, Bb] as is.
      this.blas.sgemm(false, row, m, Bb, d, 1, xin, d, W, row ? d : Bb, 0, this.pre, Bb);
      return;
    }
    const product = tf.tidy(() => tf.matMul(tf.tensor2d(xin.subarray(0, m * d), [m, d]),
      tf.tensor2d(W.subarray(0, d * Bb), row ? [Bb, d] : [d, Bb]), false, row));
    try {
      this.pre.set(product.dataSync() as Float32Array);
    } finally {
      product.dispose();
    }
  }

  /** The active latents of host rows x [m, d_in] in CSR form (ascending latents per row). */
  private encodeChunk(x: Float32Array, m: number, xin: Float32Array): ChunkCsr {
    const d = this.d_in, n = this.d_sae, { latentBlock: B, blocks } = this.blockPlan;
    const xi = xin.subarray(0, m * d);
    xi.set(x);
    if (this.applyBDecToInput) for (let r = 0; r < m; r++) for (let c = 0; c < d; c++) xi[r * d + c] -= this.bDec[c];
    const arch = this.architecture, k = this.k ?? 0;
    const entries = new Entries();
    const hv = this.heapVal, hi = this.heapIdx;
    if (hv && hi) { hv.fill(0, 0, m * k); hi.fill(0x7fffffff, 0, m * k); }
    const pre = this.pre, bias = this.bias, second = this.second, mag = this.magScale;
    for (let b = 0; b < blocks; b++) {
      const j0 = b * B, Bb = Math.min(B, n - j0);
      if (!(blocks === 1 && this.encLoaded)) {
        this.enc.read(j0, Bb, this.encBuf);
        this.encLoaded = blocks === 1;
      }
      this.encoderProduct(xi, m, Bb);
      for (let r = 0; r < m; r++) {
        const o = r * Bb;
        switch (arch) {
          case "relu":
            for (let t = 0; t < Bb; t++) { const v = Math.fround(pre[o + t] + bias[j0 + t]); if (v > 0) entries.push(r, j0 + t, v); }
            break;
          case "jumprelu":
            for (let t = 0; t < Bb; t++) { const v = Math.fround(pre[o + t] + bias[j0 + t]); if (v > second![j0 + t]) entries.push(r, j0 + t, v); }
            break;
          case "gated":
            for (let t = 0; t < Bb; t++) {
              const h = pre[o + t], j = j0 + t;
              if (!(Math.fround(h + bias[j]) > 0)) continue;
              const v = Math.fround(Math.fround(h * mag![j]) + second![j]);
              if (v > 0) entries.push(r, j, v);
            }
            break;
          case "topk": {
            const base = r * k;
            for (let t = 0; t < Bb; t++) {
              const v = Math.fround(pre[o + t] + bias[j0 + t]);
              // Latents arrive in ascending order, so an equal value never displaces the root (lower index wins).
              if (v > hv![base]) heapReplace(hv!, hi!, base, k, v, j0 + t);
            }
            break;
          }
        }
      }
    }
    if (hv && hi) {
      for (let r = 0; r < m; r++) {
        const base = r * k;
        const order: number[] = [];
        for (let q = 0; q < k; q++) if (hv[base + q] > 0) order.push(q);
        order.sort((a, c) => hi[base + a] - hi[base + c]);
        for (const q of order) entries.push(r, hi[base + q], hv[base + q]);
      }
    }
    // Rows in order, and within a row the push order (ascending latents).
    const ptr = new Int32Array(m + 1);
    for (let p = 0; p < entries.n; p++) ptr[entries.row[p] + 1]++;
    for (let r = 0; r < m; r++) ptr[r + 1] += ptr[r];
    const fill = ptr.slice(0, m);
    const idx = new Int32Array(entries.n), val = new Float32Array(entries.n);
    for (let p = 0; p < entries.n; p++) {
      const q = fill[entries.row[p]]++;
      idx[q] = entries.idx[p];
      val[q] = entries.val[p];
    }
    return { ptr, idx, val };
  }

  /** x̂ [m, d_in] = b_dec + Σ v·W_dec[j], reading only the decoder rows (or blocks) that are active. */
  private decodeChunk(csr: ChunkCsr, m: number, out: Float32Array): void {
    const d = this.d_in, n = this.d_sae, { latentBlock: B, blocks } = this.blockPlan;
    for (let r = 0; r < m; r++) out.set(this.bDec, r * d);
    const nnz = csr.idx.length;
    if (nnz === 0) return;
    // Entries grouped by block (stable: row order, then ascending latents within a row).
    const count = new Int32Array(blocks + 1);
    for (let p = 0; p < nnz; p++) count[Math.floor(csr.idx[p] / B) + 1]++;
    for (let b = 0; b < blocks; b++) count[b + 1] += count[b];
    const at = count.slice(0, blocks);
    const order = new Int32Array(nnz), rowOf = new Int32Array(nnz);
    for (let r = 0; r < m; r++) {
      for (let p = csr.ptr[r]; p < csr.ptr[r + 1]; p++) {
        const q = at[Math.floor(csr.idx[p] / B)]++;
        order[q] = p;
        rowOf[q] = r;
      }
    }
    const W = this.decBuf;
    const seen = new Uint8Array(B);
    for (let b = 0; b < blocks; b++) {
      const q0 = count[b], q1 = count[b + 1];
      if (q0 === q1) continue;
      const j0 = b * B, Bb = Math.min(B, n - j0);
      if (!(blocks === 1 && this.decLoaded)) {
        let distinct = 0;
        if (blocks > 1 && this.dec.rowAccess) {
          seen.fill(0);
          for (let q = q0; q < q1; q++) { const t = csr.idx[order[q]] - j0; if (!seen[t]) { seen[t] = 1; distinct++; } }
        }
        if (distinct > 0 && distinct * 4 < Bb) {
          for (let t = 0; t < Bb; t++) if (seen[t]) this.dec.readLatent(j0 + t, W.subarray(t * d, (t + 1) * d));
        } else {
          this.readDecoderBlock(j0, Bb);
          this.decLoaded = blocks === 1;
        }
      }
      for (let q = q0; q < q1; q++) {
        const p = order[q], v = csr.val[p], w = (csr.idx[p] - j0) * d, o = rowOf[q] * d;
        for (let c = 0; c < d; c++) out[o + c] += Math.fround(v * W[w + c]);
      }
    }
  }

  /** Decoder rows [j0, j0 + Bb) into decBuf as [Bb, d] (transposing column-stored decoders through the staging block). */
  private readDecoderBlock(j0: number, Bb: number): void {
    const d = this.d_in;
    if (this.dec.latentIsRow) {
      this.dec.read(j0, Bb, this.decBuf);
      return;
    }
    const s = this.staging!;
    this.dec.read(j0, Bb, s);
    for (let c = 0; c < d; c++) for (let t = 0; t < Bb; t++) this.decBuf[t * d + c] = s[c * Bb + t];
  }
}

/** Replaces the root (weakest) of a min-heap of k entries at `base` with (v, j) and restores the heap. */
function heapReplace(val: Float32Array, idx: Int32Array, base: number, k: number, v: number, j: number): void {
  // Weaker = smaller value, or equal value and higher latent.
  const weaker = (a: number, b: number) => val[base + a] < val[base + b] || (val[base + a] === val[base + b] && idx[base + a] > idx[base + b]);
  val[base] = v;
  idx[base] = j;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1, r = l + 1;
    let w = i;
    if (l < k && weaker(l, w)) w = l;
    if (r < k && weaker(r, w)) w = r;
    if (w === i) return;
    const tv = val[base + i], ti = idx[base + i];
    val[base + i] = val[base + w]; idx[base + i] = idx[base + w];
    val[base + w] = tv; idx[base + w] = ti;
    i = w;
  }
}
