// The forward pass of Hugging Face Llama (3.x) and Gemma 2 checkpoints, equal to transformers' eager implementation:
//   Llama:   x = embed;  per layer: x += o(attn(rms(x)·wᵢₙ)), x += down(silu(gate(h)) ⊙ up(h)) with h = rms(x)·w_post_attn
//   Gemma 2: x = embed·√d (in float32); RMSNorm weights are (1 + w); attention and MLP outputs pass through their own
//            post-norms before the residual add; GeGLU with the tanh GELU; scores scaled by query_pre_attn_scalar^-½
//            and soft-capped; sliding window on alternating layers; final logits soft-capped.
// Weights stay in their stored dtype (src/lm/hf-checkpoint.ts) and are converted to float32 one layer at a time into
// reused buffers; activations are host Float32Arrays [B·T, d]. Hooks (TransformerLens names, src/lm/hooks.ts) and
// splices behave exactly as in the llama2.c forward (src/lm/model.ts), so every consumer of `forward` works with both.
import { tf } from "../backend/index";
import { InputError } from "../errors";
import type { LlamaConfig } from "./checkpoint";
import { HfCheckpoint, isHfCheckpointDir, loadHfCheckpoint, OpenHfOptions, StoredTensor } from "./hf-checkpoint";
import { HfTokenizer, loadHfTokenizer } from "./hf-tokenizer";
import { HfConfig, ropeInverseFrequencies } from "./hf-config";
import { attention, AttentionShape, gated, halfToFloat32, hfNative, Kernels, linear, logitsLse, rmsNorm } from "./hf-kernels";
import { HookName, HookPoint, hookName, parseHookName, selectedRows, Splice } from "./hooks";
import type { ForwardOptions, ForwardResult, TokenBatch } from "./model";
import { flattenTokens } from "./model";

/** Vocabulary rows converted at once for the classifier (bounds the float32 copy of the embedding). */
const VOCAB_BLOCK = 8192;

export interface HfModelOptions extends OpenHfOptions {
  /** Use the native kernels when the addon is loaded (default true); false runs the TypeScript kernels. */
  native?: boolean;
}

/** A Hugging Face Llama / Gemma 2 model, ready to run. Create with loadHfModel. */
export class HfModel {
  readonly kind = "hf" as const;
  /** The llama2.c-style summary every consumer reads (dim, nLayers, vocabSize, seqLen, …). */
  readonly config: LlamaConfig;
  readonly hf: HfConfig;
  private readonly k: Kernels;
  private readonly buffers = new Map<string, Float32Array>();

  constructor(readonly checkpoint: HfCheckpoint, options: HfModelOptions = {}) {
    const c = checkpoint.config;
    this.hf = c;
    this.config = {
      dim: c.hiddenSize, hiddenDim: c.intermediateSize, nLayers: c.nLayers, nHeads: c.nHeads, nKvHeads: c.nKvHeads,
      vocabSize: c.vocabSize, seqLen: c.maxPositions, sharedClassifier: c.tieEmbeddings,
    };
    this.k = { native: options.native === false ? null : hfNative() };
  }

  /** Identifies the weights (config.json, tensor names/dtypes/shapes and a sample of every tensor's bytes). */
  get fingerprint(): string { return this.checkpoint.fingerprint; }

  /** Whether the native kernels run this model. */
  get usesNative(): boolean { return this.k.native !== null; }

  /** A reused float32 buffer of n elements (one per role, grown as needed). */
  private buffer(role: string, n: number): Float32Array {
    let b = this.buffers.get(role);
    if (!b || b.length < n) { b = new Float32Array(n); this.buffers.set(role, b); }
    return b.subarray(0, n);
  }

  /** A stored tensor (or rows [r0, r1) of it) as float32: a view for F32 weights, else converted into `role`'s buffer. */
  private f32(t: StoredTensor, role: string, r0 = 0, r1 = t.shape[0]): Float32Array {
    const cols = t.shape.length > 1 ? t.shape[1] : 1, n = (r1 - r0) * cols;
    if (t.dtype === "float32") return new Float32Array(t.bytes.buffer, t.bytes.byteOffset + 4 * r0 * cols, n);
    const out = this.buffer(role, n);
    halfToFloat32(this.k, t.dtype, new Uint16Array(t.bytes.buffer, t.bytes.byteOffset + 2 * r0 * cols, n), out);
    return out;
  }

  /** A norm weight as the multiplier it is: w (Llama) or 1 + w in float32 (Gemma 2). */
  private normWeight(t: StoredTensor): Float32Array {
    const w = Float32Array.from(this.f32(t, "norm"));
    if (this.hf.modelType === "gemma2") for (let i = 0; i < w.length; i++) w[i] = 1 + w[i];
    return w;
  }

  /** q or k projection (and bias) with each head's rows reordered from rotate-half pairs (i, i + hd/2) to (2i, 2i+1). */
  private ropeRows(t: StoredTensor, role: string, heads: number): Float32Array {
    const src = this.f32(t, `${role}:raw`), hd = this.hf.headDim, half = hd / 2;
    const cols = t.shape.length > 1 ? t.shape[1] : 1;
    const out = this.buffer(role, src.length);
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < half; i++) {
        out.set(src.subarray((h * hd + i) * cols, (h * hd + i + 1) * cols), (h * hd + 2 * i) * cols);
        out.set(src.subarray((h * hd + half + i) * cols, (h * hd + half + i + 1) * cols), (h * hd + 2 * i + 1) * cols);
      }
    }
    return out;
  }

  private bias(t: StoredTensor | null, role: string): Float32Array | null {
    return t ? Float32Array.from(this.f32(t, role)) : null;
  }

  /** RoPE tables [T, hd/2] for positions 0 … T−1 (q's scaled by the query scale), angles as transformers (float32 t·f). */
  private ropeTables(T: number): Pick<AttentionShape, "qCos" | "qSin" | "kCos" | "kSin"> {
    const inv = ropeInverseFrequencies(this.hf), half = inv.length, s = this.hf.queryScale, n = T * half;
    const t = { qCos: new Float32Array(n), qSin: new Float32Array(n), kCos: new Float32Array(n), kSin: new Float32Array(n) };
    for (let p = 0; p < T; p++) {
      for (let j = 0; j < half; j++) {
        const a = Math.fround(p * inv[j]), c = Math.cos(a), sn = Math.sin(a), i = p * half + j;
        t.kCos[i] = c; t.kSin[i] = sn; t.qCos[i] = c * s; t.qSin[i] = sn * s;
      }
    }
    return t;
  }

  /** The forward pass; same options and result as the llama2.c forward (src/lm/model.ts). */
  forward(tokens: TokenBatch, options: ForwardOptions = {}): ForwardResult {
    const c = this.hf, k = this.k, ck = this.checkpoint;
    const { flat, B, T } = flattenTokens(tokens, this.config, 0);
    const N = B * T, d = c.hiddenSize, hd = c.headDim, qd = c.nHeads * hd, kvd = c.nKvHeads * hd, H = c.intermediateSize;
    const wantLogits = options.logits ?? false;
    const wantLoss = options.loss ?? options.stopAtLayer === undefined;
    if (wantLoss && T < 2) throw new InputError("tokens", "the loss needs sequences of at least 2 tokens");

    const capture = new Set<HookName>(options.capture ?? []);
    const splices = new Map<HookName, Splice[]>();
    let lastHookLayer = -1;
    for (const name of capture) lastHookLayer = Math.max(lastHookLayer, parseHookName(name, c.nLayers).layer);
    for (const s of options.splice ?? []) {
      lastHookLayer = Math.max(lastHookLayer, parseHookName(s.hook, c.nLayers).layer);
      splices.set(s.hook, [...(splices.get(s.hook) ?? []), s]);
    }
    let lastLayer = c.nLayers - 1;
    if (options.stopAtLayer !== undefined) {
      const L = options.stopAtLayer;
      if (!Number.isInteger(L) || L < 0 || L >= c.nLayers) throw new InputError("stopAtLayer", `${L} is not a layer in 0..${c.nLayers - 1}`);
      if (wantLoss || wantLogits) throw new InputError("stopAtLayer", "a pass that stops early has no loss or logits");
      if (lastHookLayer > L) throw new InputError("stopAtLayer", `a hook in block ${lastHookLayer} lies after block ${L}`);
      lastLayer = L;
    } else if (!wantLoss && !wantLogits) {
      lastLayer = lastHookLayer;
    }

    const captured = new Map<HookName, Float32Array>();
    const hook = (layer: number, point: HookPoint, x: Float32Array): Float32Array => {
      const name = hookName(layer, point);
      for (const s of splices.get(name) ?? []) x = spliceRows(x, s, B, T, d);
      if (capture.has(name)) captured.set(name, x.slice());
      return x;
    };

    // Embedding rows of the tokens (Gemma 2: times √d rounded to float32, as transformers' normalizer).
    let x = new Float32Array(N * d);
    const emb = ck.embedding;
    for (let i = 0; i < N; i++) x.set(this.f32(emb, "embedRow", flat[i], flat[i] + 1), i * d);
    if (c.modelType === "gemma2") {
      const s = Math.fround(Math.sqrt(d));
      for (let i = 0; i < x.length; i++) x[i] *= s;
    }

    const tables = lastLayer >= 0 ? this.ropeTables(T) : null;
    const gemma = c.modelType === "gemma2";
    for (let l = 0; l <= lastLayer; l++) {
      const w = ck.layers[l];
      x = hook(l, "hook_resid_pre", x);
      const h = rmsNorm(k, x, d, this.normWeight(w.inputNorm), c.rmsEps);
      const q = linear(k, h, N, d, this.ropeRows(w.q, "q", c.nHeads), qd, w.qBias ? Float32Array.from(this.ropeRows(w.qBias, "qb", c.nHeads)) : null);
      const kk = linear(k, h, N, d, this.ropeRows(w.k, "k", c.nKvHeads), kvd, w.kBias ? Float32Array.from(this.ropeRows(w.kBias, "kb", c.nKvHeads)) : null);
      const v = linear(k, h, N, d, this.f32(w.v, "v"), kvd, this.bias(w.vBias, "vb"));
      const heads = attention(k, q, kk, v, { B, T, nHeads: c.nHeads, nKv: c.nKvHeads, hd, ...tables!, softcap: c.attnSoftcap, window: c.windows[l] });
      let a = linear(k, heads, N, qd, this.f32(w.o, "o"), d, this.bias(w.oBias, "ob"));
      if (gemma) a = rmsNorm(k, a, d, this.normWeight(w.postAttnNorm!), c.rmsEps);
      a = hook(l, "hook_attn_out", a);
      for (let i = 0; i < x.length; i++) a[i] += x[i]; // residual + attention, in transformers' order
      x = hook(l, "hook_resid_mid", a);
      const h2 = rmsNorm(k, x, d, this.normWeight(w.preMlpNorm), c.rmsEps);
      const g = linear(k, h2, N, d, this.f32(w.gate, "gate"), H, this.bias(w.gateBias, "gb"));
      const u = linear(k, h2, N, d, this.f32(w.up, "up"), H, this.bias(w.upBias, "ub"));
      let m = linear(k, gated(k, gemma ? "gelu_tanh" : "silu", g, u), N, H, this.f32(w.down, "down"), d, this.bias(w.downBias, "db"));
      if (gemma) m = rmsNorm(k, m, d, this.normWeight(w.postMlpNorm!), c.rmsEps);
      m = hook(l, "hook_mlp_out", m);
      for (let i = 0; i < x.length; i++) m[i] += x[i];
      x = hook(l, "hook_resid_post", m);
    }
    const result: ForwardResult = { batch: B, length: T, captured };
    if (!wantLoss && !wantLogits) return result;

    // Classifier rows: every position for logits, else only positions 0 … T−2 (the ones with a next token).
    const rowsOf = wantLogits ? N : B * (T - 1);
    let hFinal = rmsNorm(k, x, d, this.normWeight(ck.finalNorm), c.rmsEps);
    const targets = new Int32Array(rowsOf).fill(-1);
    if (wantLogits) {
      for (let b = 0; b < B; b++) for (let t = 0; t + 1 < T; t++) targets[b * T + t] = flat[b * T + t + 1];
    } else {
      const kept = new Float32Array(rowsOf * d);
      for (let b = 0; b < B; b++) {
        kept.set(hFinal.subarray(b * T * d, (b * T + T - 1) * d), b * (T - 1) * d);
        for (let t = 0; t + 1 < T; t++) targets[b * (T - 1) + t] = flat[b * T + t + 1];
      }
      hFinal = kept;
    }
    const V = c.vocabSize, head = ck.lmHead ?? ck.embedding;
    const logits = wantLogits ? new Float32Array(N * V) : null;
    const max = new Float32Array(rowsOf).fill(-Infinity), sum = new Float32Array(rowsOf), picked = new Float32Array(rowsOf);
    for (let v0 = 0; v0 < V; v0 += VOCAB_BLOCK) {
      const v1 = Math.min(V, v0 + VOCAB_BLOCK), Vb = v1 - v0;
      const z = linear(k, hFinal, rowsOf, d, this.f32(head, "head", v0, v1), Vb, null, this.buffer("logits", rowsOf * Vb));
      logitsLse(k, z, rowsOf, Vb, v0, c.finalSoftcap, targets, max, sum, picked);
      if (logits) for (let r = 0; r < rowsOf; r++) logits.set(z.subarray(r * Vb, (r + 1) * Vb), r * V + v0);
    }
    if (logits) result.logits = logits;
    if (wantLoss) {
      const loss = new Float32Array(B * (T - 1));
      for (let b = 0; b < B; b++) {
        for (let t = 0; t + 1 < T; t++) {
          const r = wantLogits ? b * T + t : b * (T - 1) + t;
          loss[b * (T - 1) + t] = Math.log(sum[r]) + max[r] - picked[r];
        }
      }
      result.loss = loss;
    }
    return result;
  }

  /** Frees the conversion buffers (the model stays usable; they are re-made on the next forward). */
  releaseBuffers(): void {
    this.buffers.clear();
  }
}

/** x [B·T, d] with a splice's rows replaced (a new array; x itself is left unchanged). */
function spliceRows(x: Float32Array, s: Splice, B: number, T: number, d: number): Float32Array {
  const rows = selectedRows(s.at, B, T);
  const count = rows ? rows.length : B * T;
  if (count === 0) return x;
  let value: Float32Array;
  if (typeof s.value === "function") {
    const fn = s.value;
    const original = new Float32Array(count * d);
    if (rows) rows.forEach((r, i) => original.set(x.subarray(r * d, (r + 1) * d), i * d));
    else original.set(x);
    value = tf.tidy(() => {
      const out = fn(tf.tensor2d(original, [count, d]));
      if (out.rank !== 2 || out.shape[0] !== count || out.shape[1] !== d) {
        throw new InputError(`splice ${s.hook}`, `value has shape [${out.shape}]; [${count}, ${d}] expected`);
      }
      return out.dataSync() as Float32Array;
    });
  } else if (s.value instanceof Float32Array) {
    value = s.value;
  } else {
    if (s.value.shape[0] !== count || s.value.shape[1] !== d) {
      throw new InputError(`splice ${s.hook}`, `value has shape [${s.value.shape}]; [${count}, ${d}] expected`);
    }
    value = s.value.dataSync() as Float32Array;
  }
  if (value.length !== count * d) {
    throw new InputError(`splice ${s.hook}`, `value has ${value.length} floats; ${count} rows × d ${d} = ${count * d} expected`);
  }
  const out = x.slice();
  if (!rows) out.set(value);
  else rows.forEach((r, i) => out.set(value.subarray(i * d, (i + 1) * d), r * d));
  return out;
}

/** Loads a checkpoint folder (config.json + safetensors) as a runnable model. */
export function loadHfModel(dir: string, options: HfModelOptions = {}): HfModel {
  return new HfModel(loadHfCheckpoint(dir, options), options);
}

/** A checkpoint folder's model and its tokenizer.json (with config.json's BOS), or null when `dir` is no such folder. */
export function loadHfModelAndTokenizer(dir: string, options: HfModelOptions = {}): { model: HfModel; tokenizer: HfTokenizer } | null {
  if (!isHfCheckpointDir(dir)) return null;
  const model = loadHfModel(dir, options);
  return { model, tokenizer: loadHfTokenizer(dir, model.hf.bosTokenId) };
}
