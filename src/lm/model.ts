// The batched Llama forward pass (llama2.c semantics) in TensorFlow.js, with named hooks, splices and per-token loss.
// Layout choices for speed: all activations stay [B·T, d] rows, so every projection is one plain matmul x·W on
// pre-transposed weights and hooks, splices and the fused pieces of src/lm/ops.ts (RMSNorm, attention with RoPE,
// SwiGLU, cross-entropy; native kernels on wasm-blas) all work on rows. Everything is differentiable on every backend.
import { matMul, tf } from "../backend/index";
import { InputError } from "../errors";
import { kvDim, LlamaConfig, LlamaWeights } from "./checkpoint";
import { applySplice, gatherRows, HookName, HookPoint, hookName, parseHookName, Splice } from "./hooks";
import { attentionGeometry, crossEntropyRows, KvCache, rmsNorm, selfAttention, swiglu } from "./ops";

export type { KvCache } from "./ops";

export interface LayerParams {
  rmsAtt: tf.Tensor1D;
  /** Projections pre-transposed to [in, out] so that the forward computes x·W. */
  wq: tf.Tensor2D; // [dim, dim]
  wk: tf.Tensor2D; // [dim, kvDim]
  wv: tf.Tensor2D; // [dim, kvDim]
  wo: tf.Tensor2D; // [dim, dim]
  rmsFfn: tf.Tensor1D;
  w1: tf.Tensor2D; // [dim, hidden]
  w2: tf.Tensor2D; // [hidden, dim]
  w3: tf.Tensor2D; // [dim, hidden]
}

/** A model as tensors (or tf.Variables, from toTrainable). */
export interface LlamaParams {
  config: LlamaConfig;
  embedding: tf.Tensor2D; // [vocab, dim]
  layers: LayerParams[];
  rmsFinal: tf.Tensor1D;
  /** [dim, vocab]; null when shared: the forward then uses embeddingᵀ, so training keeps the tie. */
  classifier: tf.Tensor2D | null;
}

// ---------------------------------------------------------------------------------------------------------------
// Weights ↔ tensors

function transposed(a: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(a.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j];
  return t;
}

function buildParams(w: LlamaWeights, make2: (a: Float32Array, shape: [number, number]) => tf.Tensor2D,
  make1: (a: Float32Array) => tf.Tensor1D): LlamaParams {
  const c = w.config, d = c.dim, h = c.hiddenDim, kv = kvDim(c);
  // Stored [out, in] → tensor [in, out].
  const proj = (a: Float32Array, l: number, out: number, inp: number) =>
    make2(transposed(a.subarray(l * out * inp, (l + 1) * out * inp), out, inp), [inp, out]);
  const layers: LayerParams[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    layers.push({
      rmsAtt: make1(w.rmsAtt.slice(l * d, (l + 1) * d)),
      wq: proj(w.wq, l, d, d), wk: proj(w.wk, l, kv, d), wv: proj(w.wv, l, kv, d), wo: proj(w.wo, l, d, d),
      rmsFfn: make1(w.rmsFfn.slice(l * d, (l + 1) * d)),
      w1: proj(w.w1, l, h, d), w2: proj(w.w2, l, d, h), w3: proj(w.w3, l, h, d),
    });
  }
  return {
    config: { ...c }, layers,
    embedding: make2(w.tokenEmbedding.slice(), [c.vocabSize, d]),
    rmsFinal: make1(w.rmsFinal.slice()),
    classifier: w.wcls ? make2(transposed(w.wcls, c.vocabSize, d), [d, c.vocabSize]) : null,
  };
}

/** Tensors for inference. Dispose with disposeParams. */
export function toTensors(weights: LlamaWeights): LlamaParams {
  return buildParams(weights, (a, s) => tf.tensor2d(a, s), (a) => tf.tensor1d(a));
}

/** tf.Variables (trainable) holding the weights, for optimisers; paramVariables lists them, toWeights reads them back. */
export function toTrainable(weights: LlamaWeights): LlamaParams {
  return buildParams(weights, (a, s) => tf.variable(tf.tensor2d(a, s), true) as unknown as tf.Tensor2D,
    (a) => tf.variable(tf.tensor1d(a), true) as unknown as tf.Tensor1D);
}

/** Every parameter tensor, embedding first, in a fixed order. */
export function paramTensors(p: LlamaParams): tf.Tensor[] {
  const out: tf.Tensor[] = [p.embedding];
  for (const l of p.layers) out.push(l.rmsAtt, l.wq, l.wk, l.wv, l.wo, l.rmsFfn, l.w1, l.w2, l.w3);
  out.push(p.rmsFinal);
  if (p.classifier) out.push(p.classifier);
  return out;
}

/** The tf.Variables of params made by toTrainable (for optimizer.minimize's varList or tf.variableGrads). */
export function paramVariables(p: LlamaParams): tf.Variable[] {
  const vars = paramTensors(p);
  if (!vars.every((v) => v instanceof tf.Variable)) throw new Error("paramVariables: these params are not tf.Variables (use toTrainable)");
  return vars as tf.Variable[];
}

/** Reads params back into the file layout (for saveLlama2c). */
export function toWeights(p: LlamaParams): LlamaWeights {
  const c = p.config, d = c.dim, h = c.hiddenDim, kv = kvDim(c), L = c.nLayers;
  const read = (t: tf.Tensor) => t.dataSync() as Float32Array;
  const stack = (get: (l: LayerParams) => tf.Tensor, size: number, transposeShape?: [number, number]) => {
    const out = new Float32Array(L * size);
    p.layers.forEach((layer, l) => {
      const a = read(get(layer));
      out.set(transposeShape ? transposed(a, transposeShape[0], transposeShape[1]) : a, l * size);
    });
    return out;
  };
  return {
    config: { ...c },
    tokenEmbedding: read(p.embedding).slice(),
    rmsAtt: stack((l) => l.rmsAtt, d), rmsFfn: stack((l) => l.rmsFfn, d),
    wq: stack((l) => l.wq, d * d, [d, d]), wk: stack((l) => l.wk, kv * d, [d, kv]), wv: stack((l) => l.wv, kv * d, [d, kv]),
    wo: stack((l) => l.wo, d * d, [d, d]),
    w1: stack((l) => l.w1, h * d, [d, h]), w2: stack((l) => l.w2, d * h, [h, d]), w3: stack((l) => l.w3, h * d, [d, h]),
    rmsFinal: read(p.rmsFinal).slice(),
    wcls: p.classifier ? transposed(read(p.classifier), d, c.vocabSize) : null,
  };
}

export function disposeParams(p: LlamaParams): void {
  tf.dispose(paramTensors(p));
}

// ---------------------------------------------------------------------------------------------------------------
// KV cache

export function emptyKvCache(): KvCache {
  return { length: 0, layers: [] };
}

export function disposeKvCache(cache: KvCache): void {
  for (const l of cache.layers) tf.dispose([l.keysT, l.values]);
  cache.layers = [];
  cache.length = 0;
}

// ---------------------------------------------------------------------------------------------------------------
// The forward pass

/** Token sequences of equal length (a batch); each token in [0, vocab). */
export type TokenBatch = readonly ArrayLike<number>[];

export interface ForwardOptions {
  /** Hooks whose values to return ([B, T, d] each, after any splice at that hook). */
  capture?: readonly HookName[];
  /** Replacements applied at hooks, in order, before capture and before the forward pass continues. */
  splice?: readonly Splice[];
  /** Per-token next-token cross-entropy [B, T-1] (default: true unless stopAtLayer is given). */
  loss?: boolean;
  /** Logits [B, T, vocab] (default false). */
  logits?: boolean;
  /**
   * Last block to run (no loss or logits then). Without it, when neither loss nor logits is wanted, the pass stops
   * after the last block that has a captured or spliced hook.
   */
  stopAtLayer?: number;
}

export interface ForwardTensors {
  loss?: tf.Tensor2D;
  logits?: tf.Tensor3D;
  captured: Map<HookName, tf.Tensor3D>;
}

/** Validates a batch against a model (equal lengths, ids in the vocabulary, within seq_len) and flattens it row-major. */
export function flattenTokens(tokens: TokenBatch, c: LlamaConfig, start: number): { flat: Int32Array; B: number; T: number } {
  const B = tokens.length;
  if (B === 0) throw new InputError("tokens", "the batch is empty");
  const T = tokens[0].length;
  if (T === 0) throw new InputError("tokens", "sequences are empty");
  if (start + T > c.seqLen) throw new InputError("tokens", `${start + T} positions exceed the model's seq_len ${c.seqLen}`);
  const flat = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const seq = tokens[b];
    if (seq.length !== T) throw new InputError("tokens", `sequence ${b} has ${seq.length} tokens; sequence 0 has ${T}`);
    for (let t = 0; t < T; t++) {
      const tok = seq[t];
      if (!Number.isInteger(tok) || tok < 0 || tok >= c.vocabSize) {
        throw new InputError("tokens", `token ${tok} at [${b}, ${t}] is outside the vocabulary [0, ${c.vocabSize})`);
      }
      flat[b * T + t] = tok;
    }
  }
  return { flat, B, T };
}

/**
 * The forward pass as tensors: differentiable (use inside tf.variableGrads / tf.grad), nothing disposed for you
 * (wrap in tf.tidy). With `cache`, the tokens continue the cached positions and the cache is extended.
 */
export function forwardTensors(p: LlamaParams, tokens: TokenBatch, options: ForwardOptions = {}, cache?: KvCache): ForwardTensors {
  const c = p.config;
  const start = cache?.length ?? 0;
  const { flat, B, T } = flattenTokens(tokens, c, start);
  const wantLogits = options.logits ?? false;
  const wantLoss = options.loss ?? options.stopAtLayer === undefined;
  if (wantLoss && T < 2) throw new InputError("tokens", "the loss needs sequences of at least 2 tokens");

  // Which hooks are touched, and how far the pass must run.
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
  if (cache && (capture.size > 0 || splices.size > 0)) throw new InputError("forward", "hooks are not supported with a KV cache");

  const captured = new Map<HookName, tf.Tensor3D>();
  const hook = (layer: number, point: HookPoint, x: tf.Tensor2D): tf.Tensor2D => {
    const name = hookName(layer, point);
    for (const s of splices.get(name) ?? []) x = applySplice(x, s, B, T);
    if (capture.has(name)) captured.set(name, x.reshape([B, T, c.dim]) as tf.Tensor3D);
    return x;
  };

  const d = c.dim;
  const geometry = attentionGeometry(c, B, T, start, cache !== undefined);
  let x = gatherRows(p.embedding, flat);
  for (let l = 0; l <= lastLayer; l++) {
    const w = p.layers[l];
    x = hook(l, "hook_resid_pre", x);
    const h = rmsNorm(x, w.rmsAtt);
    const heads = selfAttention(matMul(h, w.wq), matMul(h, w.wk), matMul(h, w.wv), geometry, cache, l);
    const attnOut = hook(l, "hook_attn_out", matMul(heads, w.wo));
    x = hook(l, "hook_resid_mid", tf.add(x, attnOut) as tf.Tensor2D);
    const h2 = rmsNorm(x, w.rmsFfn);
    const mlpOut = hook(l, "hook_mlp_out", matMul(swiglu(matMul(h2, w.w1), matMul(h2, w.w3)), w.w2));
    x = hook(l, "hook_resid_post", tf.add(x, mlpOut) as tf.Tensor2D);
  }
  if (cache) cache.length = start + T;

  const out: ForwardTensors = { captured };
  if (!wantLoss && !wantLogits) return out;
  const classifier = p.classifier ?? (tf.transpose(p.embedding) as tf.Tensor2D);
  const V = c.vocabSize;
  if (wantLogits) {
    const logits = matMul(rmsNorm(x, p.rmsFinal), classifier);
    out.logits = logits.reshape([B, T, V]) as tf.Tensor3D;
    if (wantLoss) out.loss = lossFromLogits(tf.slice(out.logits, [0, 0, 0], [B, T - 1, V]).reshape([B * (T - 1), V]) as tf.Tensor2D, flat, B, T);
  } else {
    // Only positions 0..T-2 predict a next token: skip the classifier on the last one.
    const xs = tf.slice(x.reshape([B, T, d]), [0, 0, 0], [B, T - 1, d]).reshape([B * (T - 1), d]) as tf.Tensor2D;
    out.loss = lossFromLogits(matMul(rmsNorm(xs, p.rmsFinal), classifier), flat, B, T);
  }
  return out;
}

function lossFromLogits(logits: tf.Tensor2D, flat: Int32Array, B: number, T: number): tf.Tensor2D {
  const targets = new Int32Array(B * (T - 1));
  for (let b = 0; b < B; b++) targets.set(flat.subarray(b * T + 1, (b + 1) * T), b * (T - 1));
  return crossEntropyRows(logits, targets).reshape([B, T - 1]) as tf.Tensor2D;
}

export interface ForwardResult {
  batch: number;
  length: number;
  /** [batch, length-1] row-major: loss[b, t] = -log p(token[b, t+1] | tokens[b, ..t]), nats. */
  loss?: Float32Array;
  /** [batch, length, vocab] row-major. */
  logits?: Float32Array;
  /** Hook values, each [batch, length, dim] row-major. */
  captured: Map<HookName, Float32Array>;
}

/**
 * A model that runs its own forward pass with the same options and result (Hugging Face checkpoints,
 * src/lm/hf-model.ts): everything that takes a LanguageModel works with both formats.
 */
export interface ForwardModel {
  readonly kind: "hf";
  /** The llama2.c-style summary (dim, nLayers, vocabSize, seqLen, …). */
  readonly config: LlamaConfig;
  forward(tokens: TokenBatch, options?: ForwardOptions): ForwardResult;
}

/** Any runnable language model: llama2.c tensors or a model with its own forward. */
export type LanguageModel = LlamaParams | ForwardModel;

export function isForwardModel(m: LanguageModel): m is ForwardModel {
  return (m as ForwardModel).kind === "hf";
}

/** Inference forward pass: runs in a tf.tidy and returns plain arrays (no tensors to dispose). */
export function forward(p: LanguageModel, tokens: TokenBatch, options: ForwardOptions = {}): ForwardResult {
  if (isForwardModel(p)) return p.forward(tokens, options);
  // The result is built inside tidy but not returned from it: tidy would walk every element of the typed arrays.
  let result: ForwardResult | undefined;
  tf.tidy(() => {
    const r = forwardTensors(p, tokens, options);
    const captured = new Map<HookName, Float32Array>();
    for (const [name, t] of r.captured) captured.set(name, t.dataSync() as Float32Array);
    result = {
      batch: tokens.length, length: tokens[0].length, captured,
      loss: r.loss?.dataSync() as Float32Array | undefined,
      logits: r.logits?.dataSync() as Float32Array | undefined,
    };
  });
  return result!;
}
