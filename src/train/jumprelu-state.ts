// One JumpReLU SAE under training (Rajamanoharan et al. 2024, "Jumping Ahead"; the Gemma Scope recipe): parameters,
// gradients and Adam moments in one kernel arena, and the hand-written step with straight-through estimators.
//
// Forward (no b_dec subtraction, as Gemma Scope):  z = x·W_enc + b_enc;  f_j = z_j·H(z_j − θ_j);  x̂ = f·W_dec + b_dec
// Loss:     mean_b ‖x_b − x̂_b‖²  +  λ · mean_b Σ_j H(z_bj − θ_j)            (θ = exp(log θ) > 0 per latent)
// Gradients: through f to z as if H were constant (∂f/∂z = H); to θ by the pseudo-derivatives of the paper with the
//   rectangle kernel K(u) = 1[|u| < ½] of bandwidth ε:
//     ∂f/∂θ := −(θ/ε)·K((z − θ)/ε)          ∂H(z − θ)/∂θ := −(1/ε)·K((z − θ)/ε)
//   and ∂/∂log θ = θ·∂/∂θ. Only entries with |z − θ| < ε/2 reach θ, so they are collected next to the active ones.
// Update: decoder gradient projected off the rows, optional global clipping, Adam (log θ may have its own learning
//   rate), decoder rows renormalised.
// Internally the encoder is stored as W_encᵀ [n, d] so that its gradient rows are contiguous scatter-adds.
import { InputError } from "../errors";
import { normaliseRows, randomUnitRows, removeParallelGradient } from "./decoder-norm";
import { EncoderProduct, chunkRowsFor, forEachPreChunk } from "./dense";
import { KernelArena, MAX_ARENA_BYTES } from "./kernels";
import { RowScratch, SparseActs, backwardActive, decode } from "./sparse";

export interface JumpReluStateConfig {
  d: number;
  nLatents: number;
  batchSize: number;
  /** Rectangle-kernel bandwidth ε of the pseudo-derivatives (in the units of z). */
  bandwidth: number;
  adamBeta1: number;
  adamBeta2: number;
  adamEps: number;
  /** Global gradient-norm limit (Infinity: no clipping). */
  gradClip: number;
}

export interface JumpReluStepStats {
  /** mean_b ‖x_b − x̂_b‖². */
  mse: number;
  /** The batch FVU: Σ‖x̂ − x‖² / Σ‖x − mean_batch(x)‖². */
  fvu: number;
  /** Mean active latents per token (the hard L0). */
  l0: number;
  /** mse + λ·l0 at the λ of the step. */
  loss: number;
  /** (token, latent) pairs within ε/2 of their threshold: the ones that moved θ. */
  windowHits: number;
}

export interface UpdateStats {
  gradNorm: number;
  clipScale: number;
}

const align4 = (n: number): number => Math.ceil(n / 4) * 4;

export interface JumpReluParams {
  all: Float32Array;
  WencT: Float32Array;
  Wdec: Float32Array;
  benc: Float32Array;
  logTheta: Float32Array;
  bdec: Float32Array;
}

function layout(n: number, d: number) {
  const WencT = 0, Wdec = align4(n * d), benc = Wdec + align4(n * d), logTheta = benc + align4(n), bdec = logTheta + align4(n);
  return { WencT, Wdec, benc, logTheta, bdec, length: bdec + align4(d) };
}

function views(all: Float32Array, n: number, d: number): JumpReluParams {
  const o = layout(n, d);
  return {
    all,
    WencT: all.subarray(o.WencT, o.WencT + n * d),
    Wdec: all.subarray(o.Wdec, o.Wdec + n * d),
    benc: all.subarray(o.benc, o.benc + n),
    logTheta: all.subarray(o.logTheta, o.logTheta + n),
    bdec: all.subarray(o.bdec, o.bdec + d),
  };
}

/** Arena bytes a state with this configuration needs. */
export function jumpReluStateBytes(c: JumpReluStateConfig): number {
  const B = c.batchSize, n = c.nLatents, d = c.d;
  const block = layout(n, d).length;
  return KernelArena.bytesFor([block, block, block, block, B * d, B * d, B * d, chunkRowsFor(B, n) * n, n, n, n, n]);
}

export class JumpReluTrainingState {
  readonly arena: KernelArena;
  readonly params: JumpReluParams;
  readonly grads: JumpReluParams;
  private readonly m: Float32Array;
  private readonly v: Float32Array;
  /** The batch to train on next (already normalised): write batchSize rows here before `forwardBackward`. */
  readonly x: Float32Array;
  private readonly xhat: Float32Array;
  private readonly g: Float32Array;
  private readonly pre: Float32Array;
  /** θ = exp(log θ) in float32: the exact cut of the forward. */
  readonly theta: Float32Array;
  /** θ − ε/2 (float32): everything above it is either active or in θ's kernel window. */
  private readonly lower: Float32Array;
  private readonly scratch: RowScratch;
  /** The active latents of the last forward pass. */
  readonly acts: SparseActs;
  /** The (row, latent, z) entries within ε/2 of θ in the last forward pass. */
  private winRow = new Int32Array(1024);
  private winIdx = new Int32Array(1024);
  private winVal = new Float32Array(1024);
  private winCount = 0;
  private readonly gBenc: Float64Array;
  private readonly gTheta: Float64Array;
  private adamStep = 0;

  constructor(readonly config: JumpReluStateConfig, private readonly product: EncoderProduct) {
    const { d, nLatents: n, batchSize: B } = config;
    if (!(config.bandwidth > 0 && Number.isFinite(config.bandwidth))) throw new InputError("trainSae config.bandwidth", `must be a positive number, got ${config.bandwidth}`);
    const bytes = jumpReluStateBytes(config);
    if (bytes > MAX_ARENA_BYTES) {
      throw new InputError("trainSae config", `nLatents=${n}, d=${d}, batchSize=${B} need ${(bytes / 2 ** 30).toFixed(2)} GiB of kernel memory, ` +
        `more than the ${(MAX_ARENA_BYTES / 2 ** 30).toFixed(2)} GiB a wasm memory can hold; lower batchSize or nLatents`);
    }
    this.arena = new KernelArena(bytes);
    const block = layout(n, d).length;
    this.params = views(this.arena.floats(block), n, d);
    this.grads = views(this.arena.floats(block), n, d);
    this.m = this.arena.floats(block);
    this.v = this.arena.floats(block);
    this.x = this.arena.floats(B * d);
    this.xhat = this.arena.floats(B * d);
    this.g = this.arena.floats(B * d);
    this.pre = this.arena.floats(chunkRowsFor(B, n) * n);
    this.theta = this.arena.floats(n);
    this.lower = this.arena.floats(n);
    this.scratch = new RowScratch(this.arena, n);
    this.acts = new SparseActs(B, B * Math.min(n, 64));
    this.gBenc = new Float64Array(n);
    this.gTheta = new Float64Array(n);
  }

  /**
   * Gemma Scope's initialisation: decoder rows are random unit vectors (seeded), W_enc = W_decᵀ, b_enc = 0,
   * θ = `thetaInit` for every latent, and b_dec = `bDec`.
   */
  initialise(bDec: ArrayLike<number>, thetaInit: number, seed: number): void {
    const { d, nLatents: n } = this.config;
    if (!(thetaInit > 0 && Number.isFinite(thetaInit))) throw new InputError("trainSae config.thresholdInit", `must be a positive number, got ${thetaInit}`);
    const P = this.params;
    randomUnitRows(P.Wdec, n, d, seed);
    P.WencT.set(P.Wdec);
    P.benc.fill(0);
    P.logTheta.fill(Math.log(thetaInit));
    for (let t = 0; t < d; t++) P.bdec[t] = bDec[t];
    this.m.fill(0);
    this.v.fill(0);
    this.adamStep = 0;
  }

  /** Sets θ per latent (normalised units). */
  setThresholds(theta: ArrayLike<number>): void {
    const { logTheta } = this.params;
    for (let j = 0; j < logTheta.length; j++) {
      if (!(theta[j] > 0 && Number.isFinite(theta[j]))) throw new InputError("trainSae threshold", `latent ${j}: must be a positive number, got ${theta[j]}`);
      logTheta[j] = Math.log(theta[j]);
    }
  }

  /**
   * Thresholds at which the current batch `x` fires about `k` latents per row: the median
   * over rows of each row's k-th largest pre-activation (z = x·W_enc + b_enc), lowered for each latent that would then
   * fire on none of those rows to just below its largest z there, so that no latent starts dead. Never below `floor`.
   */
  thresholdsForL0(k: number, floor: number): Float32Array {
    const { d, nLatents: n, batchSize: rows } = this.config;
    const kk = Math.min(Math.max(1, Math.round(k)), n);
    const P = this.params, row = new Float32Array(n), kth = new Float64Array(rows), max = new Float32Array(n).fill(-Infinity);
    forEachPreChunk(this.product, this.x, P.WencT, this.pre, rows, n, d, (r0, count) => {
      for (let b = 0; b < count; b++) {
        for (let j = 0; j < n; j++) {
          const z = this.pre[b * n + j] + P.benc[j];
          row[j] = z;
          if (z > max[j]) max[j] = z;
        }
        row.sort();
        kth[r0 + b] = row[n - kk];
      }
    });
    kth.sort();
    const global = rows % 2 ? kth[(rows - 1) / 2] : (kth[rows / 2 - 1] + kth[rows / 2]) / 2;
    const out = new Float32Array(n);
    for (let j = 0; j < n; j++) out[j] = Math.max(floor, Math.min(global, max[j] * (1 - 1e-3)));
    return out;
  }

  get moments(): { m: Float32Array; v: Float32Array } { return { m: this.m, v: this.v }; }
  /** x̂ of the last forward pass [batchSize, d] (training units). */
  get reconstruction(): Float32Array { return this.xhat; }
  get steps(): number { return this.adamStep; }

  /** Refreshes θ and the kernel-window floor from log θ (after every parameter change). */
  private refreshThresholds(): void {
    const { logTheta } = this.params, half = this.config.bandwidth / 2;
    for (let j = 0; j < logTheta.length; j++) {
      const th = Math.fround(Math.exp(logTheta[j]));
      this.theta[j] = th;
      this.lower[j] = Math.fround(th - half);
    }
  }

  private pushWindow(row: number, j: number, z: number): void {
    if (this.winCount === this.winRow.length) {
      const size = this.winCount * 2;
      const r = new Int32Array(size), i = new Int32Array(size), v = new Float32Array(size);
      r.set(this.winRow); i.set(this.winIdx); v.set(this.winVal);
      this.winRow = r; this.winIdx = i; this.winVal = v;
    }
    this.winRow[this.winCount] = row;
    this.winIdx[this.winCount] = j;
    this.winVal[this.winCount] = z;
    this.winCount++;
  }

  /**
   * Dense encoder product, then per row: the active latents (z > θ, the exact float32 cut of the saved SAE) and the
   * entries in θ's kernel window. Writes `acts`.
   */
  private encode(): void {
    const K = this.arena.k;
    const { nLatents: n, batchSize: B, bandwidth: eps, d } = this.config;
    const P = this.params, s = this.scratch, theta = this.theta, half = eps / 2;
    this.refreshThresholds();
    this.winCount = 0;
    const acts = this.acts;
    let nnz = 0;
    forEachPreChunk(this.product, this.x, P.WencT, this.pre, B, n, d, (r0, rows) => {
      const pre = this.pre, n4 = n & ~3;
      for (let b = 0; b < rows; b++) {
        // entries with z > θ − ε/2: the SIMD kernel on groups of 4, the last n mod 4 here
        let c = K.collectAboveEach(pre.byteOffset + 4 * b * n, P.benc.byteOffset, this.lower.byteOffset, n4, s.idx.byteOffset, s.val.byteOffset, n);
        for (let j = n4; j < n; j++) {
          const v = Math.fround(pre[b * n + j] + P.benc[j]);
          if (v > this.lower[j]) { s.idx[c] = j; s.val[c] = v; c++; }
        }
        const row = r0 + b;
        acts.ptr[row] = nnz;
        acts.reserve(nnz + c, nnz);
        for (let q = 0; q < c; q++) {
          const j = s.idx[q], z = s.val[q];
          if (z > theta[j]) { acts.idx[nnz] = j; acts.val[nnz] = z; nnz++; }
          if (Math.abs(z - theta[j]) < half) this.pushWindow(row, j, z);
        }
      }
      acts.ptr[r0 + rows] = nnz;
    });
  }

  /**
   * Forward and backward pass on `x` at sparsity coefficient `lambda`: fills `grads` (log θ's entry is ∂loss/∂log θ)
   * and `acts`.
   */
  forwardBackward(lambda: number): JumpReluStepStats {
    const K = this.arena.k;
    const { d, nLatents: n, batchSize: B, bandwidth: eps } = this.config;
    const { x, xhat, g } = this;
    const P = this.params, G = this.grads;

    const mean = new Float64Array(d);
    for (let i = 0; i < B * d; i += d) for (let t = 0; t < d; t++) mean[t] += x[i + t];
    for (let t = 0; t < d; t++) mean[t] /= B;
    let denom = 0;
    for (let i = 0; i < B * d; i += d) for (let t = 0; t < d; t++) denom += (x[i + t] - mean[t]) ** 2;
    if (!Number.isFinite(denom)) throw new InputError("training data", "a batch contains a non-finite value (NaN or ±Infinity)");
    if (!(denom > 0)) throw new InputError("training data", "a batch has zero variance (all rows identical), so its FVU is undefined");

    this.encode();
    decode(K, this.acts, P.Wdec, P.bdec, xhat, d);
    // g = ∂mse/∂x̂ = 2(x̂ − x)/B
    const rowBytes = 4 * d;
    g.set(xhat);
    K.axpy(-1, x.byteOffset, g.byteOffset, B * d);
    let sse = 0;
    for (let b = 0; b < B; b++) sse += K.dot(g.byteOffset + b * rowBytes, g.byteOffset + b * rowBytes, d);
    if (!Number.isFinite(sse)) throw new InputError("trainSae", "the reconstruction error became non-finite (training diverged; lower the learning rate)");
    K.scal(2 / B, g.byteOffset, B * d);

    G.all.fill(0);
    this.gBenc.fill(0);
    this.gTheta.fill(0);
    // Active entries: decoder, encoder and b_enc gradients (the mask is held constant: ∂f/∂z = 1 where z > θ).
    backwardActive(K, this.acts, g, x, P.Wdec, G.Wdec, G.WencT, this.gBenc, d);
    for (let b = 0; b < B; b++) K.axpy(1, g.byteOffset + b * rowBytes, G.bdec.byteOffset, d);
    for (let j = 0; j < n; j++) G.benc[j] = this.gBenc[j];
    // θ: each window entry adds ∂loss/∂f · (−θ/ε) (reconstruction) and λ/B · (−1/ε) (L0).
    const l0Term = -lambda / (B * eps);
    for (let w = 0; w < this.winCount; w++) {
      const b = this.winRow[w], j = this.winIdx[w];
      const dLdf = K.dot(g.byteOffset + b * rowBytes, P.Wdec.byteOffset + j * rowBytes, d);
      this.gTheta[j] += -(this.theta[j] / eps) * dLdf + l0Term;
    }
    for (let j = 0; j < n; j++) G.logTheta[j] = this.gTheta[j] * this.theta[j];

    const l0 = this.acts.nnz / B, mse = sse / B;
    return { mse, fvu: sse / denom, l0, loss: mse + lambda * l0, windowHits: this.winCount };
  }

  /**
   * Projects the decoder gradient, clips, takes one Adam step (learning rate `lr`, and `thetaLr` for log θ),
   * renormalises the decoder.
   */
  update(lr: number, thetaLr: number): UpdateStats {
    const K = this.arena.k;
    const { d, nLatents: n, adamBeta1: b1, adamBeta2: b2, adamEps, gradClip } = this.config;
    const P = this.params, G = this.grads;
    removeParallelGradient(K, P.Wdec, G.Wdec, n, d);
    let sumsq = 0;
    const all = G.all;
    for (let i = 0; i < all.length; i++) sumsq += all[i] * all[i];
    const gradNorm = Math.sqrt(sumsq);
    const clipScale = gradNorm > gradClip ? gradClip / (gradNorm + 1e-6) : 1;

    const t = ++this.adamStep;
    const bc1 = 1 - b1 ** t, invSqrtBc2 = 1 / Math.sqrt(1 - b2 ** t);
    const o = layout(n, d);
    // Three calls over padded (multiple-of-4) ranges: everything before log θ, log θ, and b_dec.
    const run = (start: number, length: number, rate: number) => K.adam(P.all.byteOffset + 4 * start, G.all.byteOffset + 4 * start,
      this.m.byteOffset + 4 * start, this.v.byteOffset + 4 * start, length, clipScale, b1, 1 - b1, b2, 1 - b2, rate / bc1, invSqrtBc2, adamEps);
    run(0, o.logTheta, lr);
    run(o.logTheta, o.bdec - o.logTheta, thetaLr);
    run(o.bdec, o.length - o.bdec, lr);

    normaliseRows(K, P.Wdec, n, d);
    return { gradNorm, clipScale };
  }

  /** The parameters in the canonical layout (W_enc [d, n], W_dec [n, d]) with θ = exp(log θ), in training units. */
  weights(): { W_enc: Float32Array; b_enc: Float32Array; W_dec: Float32Array; b_dec: Float32Array; threshold: Float32Array } {
    const { d, nLatents: n } = this.config;
    const P = this.params;
    this.refreshThresholds();
    const W_enc = new Float32Array(d * n);
    for (let j = 0; j < n; j++) for (let t = 0; t < d; t++) W_enc[t * n + j] = P.WencT[j * d + t];
    return { W_enc, b_enc: P.benc.slice(), W_dec: P.Wdec.slice(), b_dec: P.bdec.slice(), threshold: this.theta.slice() };
  }
}
