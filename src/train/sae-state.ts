// One TopK (or BatchTopK) SAE under training: parameters, gradients and Adam moments in one kernel arena, and the
// hand-written step. Internally the encoder is stored as W_encᵀ [n, d] (sparsify's encoder.weight) so that its
// gradient rows are contiguous scatter-adds; `weights()` returns the canonical layout.
//
// Forward (sparsify):  xc = x − b_dec;  pre = relu(xc·W_enc + b_enc);  f = TopK(pre);  x̂ = f·W_dec + b_dec
// Loss:                FVU = Σ‖x̂ − x‖² / Σ‖x − mean_batch(x)‖²   (+ coef · AuxK, see forwardBackward)
// Update:              remove each decoder row's gradient component along the row; clip the global gradient norm;
//                      Adam; renormalise decoder rows.
import { InputError } from "../errors";
import { DeadLatentTracker } from "./dead-latents";
import { normaliseRows, randomUnitRows, removeParallelGradient } from "./decoder-norm";
import { EncoderProduct, chunkRowsFor, forEachPreChunk } from "./dense";
import { KernelArena, MAX_ARENA_BYTES } from "./kernels";
import { BatchTopKSelector, RowScratch, SparseActs, backwardActive, decode, selectTopK } from "./sparse";

export interface SaeStateConfig {
  d: number;
  nLatents: number;
  k: number;
  batchSize: number;
  architecture: "topk" | "batchtopk";
  /** AuxK loss weight (0: off). */
  auxkCoef: number;
  /** Dead latents used per token by AuxK. */
  kAux: number;
  adamBeta1: number;
  adamBeta2: number;
  adamEps: number;
  /** Global gradient-norm limit (Infinity: no clipping). */
  gradClip: number;
}

export interface StepStats {
  /** The batch FVU of the reconstruction. */
  fvu: number;
  /** The AuxK term before its coefficient (0 when off or when no latent is dead). */
  auxk: number;
  /** fvu + auxkCoef · auxk: what the gradients are of. */
  loss: number;
  /** Mean active latents per token. */
  l0: number;
}

export interface UpdateStats {
  /** Global gradient norm after the decoder projection, before clipping. */
  gradNorm: number;
  /** Factor the gradient was multiplied by (1: not clipped). */
  clipScale: number;
}

const align4 = (n: number): number => Math.ceil(n / 4) * 4;

/** Parameter (or gradient, or moment) views into one contiguous block. */
export interface ParamViews {
  /** The whole block (Adam runs over it in one call). */
  all: Float32Array;
  WencT: Float32Array;
  Wdec: Float32Array;
  benc: Float32Array;
  bdec: Float32Array;
}

function layout(n: number, d: number): { WencT: number; Wdec: number; benc: number; bdec: number; length: number } {
  const WencT = 0, Wdec = align4(n * d), benc = Wdec + align4(n * d), bdec = benc + align4(n);
  return { WencT, Wdec, benc, bdec, length: bdec + align4(d) };
}

function views(all: Float32Array, n: number, d: number): ParamViews {
  const o = layout(n, d);
  return {
    all,
    WencT: all.subarray(o.WencT, o.WencT + n * d),
    Wdec: all.subarray(o.Wdec, o.Wdec + n * d),
    benc: all.subarray(o.benc, o.benc + n),
    bdec: all.subarray(o.bdec, o.bdec + d),
  };
}

/** Arena bytes a state with this configuration needs (checked before anything is allocated). */
export function stateBytes(c: SaeStateConfig): number {
  const B = c.batchSize, n = c.nLatents, d = c.d;
  const block = layout(n, d).length;
  const batchArrays = c.auxkCoef > 0 ? 6 : 4;
  return KernelArena.bytesFor([block, block, block, block, ...Array(batchArrays).fill(B * d), chunkRowsFor(B, n) * n, n, n, n]);
}

export class SaeTrainingState {
  readonly arena: KernelArena;
  readonly params: ParamViews;
  readonly grads: ParamViews;
  private readonly m: Float32Array;
  private readonly v: Float32Array;
  /** The batch to train on next: write batchSize rows here before `forwardBackward`. */
  readonly x: Float32Array;
  private readonly xc: Float32Array;
  private readonly xhat: Float32Array;
  private readonly g: Float32Array;
  private readonly ehat: Float32Array | null;
  private readonly ga: Float32Array | null;
  private readonly pre: Float32Array;
  /** b_enc on dead latents, −∞ elsewhere: AuxK's selection bias. */
  private readonly auxBias: Float32Array;
  private readonly scratch: RowScratch;
  /** The active latents of the last forward pass. */
  readonly acts: SparseActs;
  private readonly auxActs: SparseActs;
  private readonly gBenc: Float64Array;
  private readonly selector: BatchTopKSelector | null;
  private adamStep = 0;

  constructor(readonly config: SaeStateConfig, private readonly product: EncoderProduct) {
    const { d, nLatents: n, batchSize: B, k } = config;
    const bytes = stateBytes(config);
    if (bytes > MAX_ARENA_BYTES) {
      throw new InputError("trainSae config", `nLatents=${n}, d=${d}, batchSize=${B} need ${(bytes / 2 ** 30).toFixed(2)} GiB of kernel memory, ` +
        `more than the ${(MAX_ARENA_BYTES / 2 ** 30).toFixed(2)} GiB a wasm memory can hold; lower batchSize or nLatents`);
    }
    try {
      this.arena = new KernelArena(bytes);
    } catch (err) {
      throw new InputError("trainSae config", `could not allocate ${(bytes / 2 ** 30).toFixed(2)} GiB of kernel memory for nLatents=${n}, ` +
        `d=${d}, batchSize=${B} (${(err as Error).message}); lower batchSize or nLatents`);
    }
    const block = layout(n, d).length;
    this.params = views(this.arena.floats(block), n, d);
    this.grads = views(this.arena.floats(block), n, d);
    this.m = this.arena.floats(block);
    this.v = this.arena.floats(block);
    this.x = this.arena.floats(B * d);
    this.xc = this.arena.floats(B * d);
    this.xhat = this.arena.floats(B * d);
    this.g = this.arena.floats(B * d);
    this.ehat = config.auxkCoef > 0 ? this.arena.floats(B * d) : null;
    this.ga = config.auxkCoef > 0 ? this.arena.floats(B * d) : null;
    this.pre = this.arena.floats(chunkRowsFor(B, n) * n);
    this.auxBias = this.arena.floats(n);
    this.scratch = new RowScratch(this.arena, n);
    this.acts = new SparseActs(B, B * k);
    this.auxActs = new SparseActs(B, config.auxkCoef > 0 ? B * Math.min(config.kAux, n) : 0);
    this.gBenc = new Float64Array(n);
    this.selector = config.architecture === "batchtopk" ? new BatchTopKSelector(this.arena.k, this.scratch, n) : null;
  }

  /**
   * The paper's initialisation: decoder rows are random unit vectors (seeded), the encoder is the decoder's
   * transpose, b_enc = 0 and b_dec = `bDec` (the geometric median of a sample).
   */
  initialise(bDec: ArrayLike<number>, seed: number): void {
    const { d, nLatents: n } = this.config;
    const { Wdec, WencT, benc, bdec } = this.params;
    randomUnitRows(Wdec, n, d, seed);
    WencT.set(Wdec);
    benc.fill(0);
    for (let t = 0; t < d; t++) bdec[t] = bDec[t];
    this.m.fill(0);
    this.v.fill(0);
    this.adamStep = 0;
  }

  /** Adam's first and second moments, laid out like `params.all`. */
  get moments(): { m: Float32Array; v: Float32Array } { return { m: this.m, v: this.v }; }

  /** Adam steps taken. */
  get steps(): number { return this.adamStep; }

  /** The BatchTopK cut-off of the last batch: its smallest kept activation. */
  get lastCutoff(): number { return this.selector ? this.selector.lastCutoff : 0; }

  /**
   * Forward and backward pass on `x` (batchSize rows): fills `grads` with ∂loss/∂params and `acts` with the active
   * latents. With auxkCoef > 0 and dead latents in `dead`, adds AuxK (OpenAI/sparsify): each token's residual
   * r = x − x̂ is reconstructed without bias from its top kAux' dead latents, kAux' = min(kAux, #dead),
   * AuxK = s·Σ‖ê − r‖² / Σ‖x − mean(x)‖² with s = min(#dead / kAux, 1); r is treated as a constant.
   */
  forwardBackward(dead: DeadLatentTracker | null = null): StepStats {
    const K = this.arena.k;
    const { d, nLatents: n, batchSize: B, k } = this.config;
    const { x, xc, xhat, g } = this;
    const P = this.params;

    // Denominator: the batch's total centred sum of squares (float64).
    const mean = new Float64Array(d);
    for (let i = 0; i < B * d; i += d) for (let t = 0; t < d; t++) mean[t] += x[i + t];
    for (let t = 0; t < d; t++) mean[t] /= B;
    let denom = 0;
    for (let i = 0; i < B * d; i += d) for (let t = 0; t < d; t++) denom += (x[i + t] - mean[t]) ** 2;
    if (!Number.isFinite(denom)) throw new InputError("training data", "a batch contains a non-finite value (NaN or ±Infinity)");
    if (!(denom > 0)) throw new InputError("training data", "a batch has zero variance (all rows identical), so its FVU is undefined");

    xc.set(x);
    for (let b = 0; b < B; b++) K.axpy(-1, P.bdec.byteOffset, xc.byteOffset + 4 * b * d, d);

    // AuxK set-up: which latents are dead, and how many to use per token.
    let auxK = 0, auxScale = 0;
    const useAux = this.config.auxkCoef > 0 && dead !== null;
    if (useAux) {
      const nDead = dead.deadCount();
      if (nDead > 0) {
        auxK = Math.min(this.config.kAux, nDead);
        auxScale = Math.min(nDead / this.config.kAux, 1);
        for (let j = 0; j < n; j++) this.auxBias[j] = dead.isDead(j) ? P.benc[j] : -Infinity;
      }
    }

    const encode = (floor: number): boolean => {
      this.selector?.begin(floor);
      forEachPreChunk(this.product, xc, P.WencT, this.pre, B, n, d, (r0, rows) => {
        if (this.selector) this.selector.scan(this.pre, P.benc, rows, r0);
        else selectTopK(K, this.scratch, this.pre, P.benc, rows, n, k, this.acts, r0);
        if (auxK > 0) selectTopK(K, this.scratch, this.pre, this.auxBias, rows, n, auxK, this.auxActs, r0);
      });
      return this.selector ? this.selector.finish(k * B, this.acts) : true;
    };
    const floor = this.selector ? this.selector.lastCutoff / 2 : 0;
    if (!encode(floor)) encode(0);

    decode(K, this.acts, P.Wdec, P.bdec, xhat, d);
    // g = ∂FVU/∂x̂ = 2(x̂ − x)/denom (x̂ − x first; scaled below); squared errors summed per row in f32, over rows in
    // float64.
    const rowBytes = 4 * d;
    g.set(xhat);
    K.axpy(-1, x.byteOffset, g.byteOffset, B * d);
    let sse = 0;
    for (let b = 0; b < B; b++) sse += K.dot(g.byteOffset + b * rowBytes, g.byteOffset + b * rowBytes, d);
    if (!Number.isFinite(sse)) throw new InputError("trainSae", "the reconstruction error became non-finite (training diverged; lower the learning rate)");
    let auxSse = 0;
    if (auxK > 0) {
      // ga = ∂(coef·AuxK)/∂ê = coef·s·2(ê − r)/denom with r = x − x̂, i.e. ê − r = ê + (x̂ − x).
      const ehat = this.ehat!, ga = this.ga!;
      decode(K, this.auxActs, P.Wdec, null, ehat, d);
      ga.set(ehat);
      K.axpy(1, g.byteOffset, ga.byteOffset, B * d);
      for (let b = 0; b < B; b++) auxSse += K.dot(ga.byteOffset + b * rowBytes, ga.byteOffset + b * rowBytes, d);
      K.scal((this.config.auxkCoef * auxScale * 2) / denom, ga.byteOffset, B * d);
    }
    K.scal(2 / denom, g.byteOffset, B * d);

    // Backward.
    const G = this.grads;
    G.all.fill(0);
    this.gBenc.fill(0);
    backwardActive(K, this.acts, g, xc, P.Wdec, G.Wdec, G.WencT, this.gBenc, d);
    if (auxK > 0) backwardActive(K, this.auxActs, this.ga!, xc, P.Wdec, G.Wdec, G.WencT, this.gBenc, d);
    // b_dec enters twice: added to x̂ (gradient Σ_b g_b) and subtracted from the encoder input
    // (gradient −Σ_j ∂b_enc[j] · W_encᵀ[j]).
    for (let b = 0; b < B; b++) K.axpy(1, g.byteOffset + b * rowBytes, G.bdec.byteOffset, d);
    for (let j = 0; j < n; j++) {
      const s = this.gBenc[j];
      G.benc[j] = s;
      if (s !== 0) K.axpy(-s, P.WencT.byteOffset + j * rowBytes, G.bdec.byteOffset, d);
    }

    const fvu = sse / denom, auxk = (auxScale * auxSse) / denom;
    return { fvu, auxk, loss: fvu + this.config.auxkCoef * auxk, l0: this.acts.nnz / B };
  }

  /** Projects the decoder gradient, clips, takes one Adam step at learning rate `lr`, renormalises the decoder. */
  update(lr: number): UpdateStats {
    const K = this.arena.k;
    const { d, nLatents: n, adamBeta1: b1, adamBeta2: b2, adamEps, gradClip } = this.config;
    const P = this.params, G = this.grads;
    const rowBytes = 4 * d;
    removeParallelGradient(K, P.Wdec, G.Wdec, n, d);
    let sumsq = 0;
    for (let j = 0; j < n; j++) {
      sumsq += K.dot(G.WencT.byteOffset + j * rowBytes, G.WencT.byteOffset + j * rowBytes, d);
      sumsq += K.dot(G.Wdec.byteOffset + j * rowBytes, G.Wdec.byteOffset + j * rowBytes, d);
      sumsq += G.benc[j] * G.benc[j];
    }
    for (let t = 0; t < d; t++) sumsq += G.bdec[t] * G.bdec[t];
    const gradNorm = Math.sqrt(sumsq);
    // torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) when that is below 1
    const clipScale = gradNorm > gradClip ? gradClip / (gradNorm + 1e-6) : 1;

    const t = ++this.adamStep;
    K.adam(P.all.byteOffset, G.all.byteOffset, this.m.byteOffset, this.v.byteOffset, P.all.length, clipScale,
      b1, 1 - b1, b2, 1 - b2, lr / (1 - b1 ** t), 1 / Math.sqrt(1 - b2 ** t), adamEps);

    normaliseRows(K, P.Wdec, n, d);
    return { gradNorm, clipScale };
  }

  /** A copy of the parameters in the canonical layout: W_enc [d, n], b_enc [n], W_dec [n, d], b_dec [d]. */
  weights(): { W_enc: Float32Array; b_enc: Float32Array; W_dec: Float32Array; b_dec: Float32Array } {
    const { d, nLatents: n } = this.config;
    const P = this.params;
    const W_enc = new Float32Array(d * n);
    for (let j = 0; j < n; j++) for (let t = 0; t < d; t++) W_enc[t * n + j] = P.WencT[j * d + t];
    return { W_enc, b_enc: P.benc.slice(), W_dec: P.Wdec.slice(), b_dec: P.bdec.slice() };
  }
}
