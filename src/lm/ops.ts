// The pieces of the Llama forward pass (llama2.c semantics). Each is written in tfjs ops, which run on every backend
// and which tfjs differentiates. While the fused native kernels are active (wasm-blas, src/lm/native-kernels.ts) the
// forward value comes from one native kernel instead, and its gradient from closed-form tfjs expressions.
import { matMul, matMulNT, matMulTN, tf } from "../backend/index";
import { headSize, kvDim, LlamaConfig } from "./checkpoint";
import {
  nativeCausalAttention, nativeCrossEntropy, nativeKernelsActive, nativeRmsNorm, nativeSwiglu, RopeTables,
} from "./native-kernels";

const RMS_EPS = 1e-5;
const ROPE_THETA = 10000;
/** Added to scores of future positions: exp underflows to exactly 0 and, unlike -Infinity, never makes a NaN. */
const MASKED = -1e9;

type CustomGradFn = Parameters<typeof tf.customGrad>[0];

/** `native(...inputs)` with the gradient `gradient(dy, inputs)` (one tensor per input). */
function withGradient<T extends tf.Tensor>(inputs: tf.Tensor[], native: (...xs: tf.Tensor[]) => T,
  gradient: (dy: T, xs: tf.Tensor[]) => tf.Tensor[]): T {
  const f = tf.customGrad(((...args: unknown[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const xs = args as tf.Tensor[];
    save(xs);
    return { value: native(...xs), gradFunc: (dy: T, saved: tf.Tensor[]) => gradient(dy, saved) };
  }) as unknown as CustomGradFn);
  return f(...inputs) as T;
}

// ---------------------------------------------------------------------------------------------------------------
// RMSNorm and the SwiGLU gate

function rmsNormReference(x: tf.Tensor2D, weight: tf.Tensor1D): tf.Tensor2D {
  const ms = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, RMS_EPS))), weight) as tf.Tensor2D;
}

/** x / √(mean(x²) + 1e-5) ⊙ weight, per row. */
export function rmsNorm(x: tf.Tensor2D, weight: tf.Tensor1D): tf.Tensor2D {
  if (!nativeKernelsActive()) return rmsNormReference(x, weight);
  return withGradient([x, weight], (a, w) => nativeRmsNorm(a as tf.Tensor2D, w as tf.Tensor1D, RMS_EPS), (dy, [a, w]) => {
    // y = x·r·w with r = (mean(x²) + eps)^-½: dx = r·(dy⊙w) - x·r³·mean(dy⊙w⊙x), dw = Σ_rows dy⊙x·r.
    const r = tf.rsqrt(tf.add(tf.mean(tf.square(a), -1, true), RMS_EPS));
    const gw = tf.mul(dy, w);
    const dx = tf.sub(tf.mul(gw, r), tf.mul(a, tf.mul(tf.pow(r, 3), tf.mean(tf.mul(gw, a), -1, true))));
    return [dx, tf.sum(tf.mul(dy, tf.mul(a, r)), 0)];
  });
}

function swigluReference(gate: tf.Tensor2D, up: tf.Tensor2D): tf.Tensor2D {
  return tf.mul(tf.mul(gate, tf.sigmoid(gate)), up) as tf.Tensor2D;
}

/** silu(gate) ⊙ up: the hidden layer of the feed-forward block. */
export function swiglu(gate: tf.Tensor2D, up: tf.Tensor2D): tf.Tensor2D {
  if (!nativeKernelsActive()) return swigluReference(gate, up);
  return withGradient([gate, up], (g, u) => nativeSwiglu(g as tf.Tensor2D, u as tf.Tensor2D), (dy, [g, u]) => {
    // d/dg g·σ(g) = σ(g)·(1 + g·(1 - σ(g))).
    const sg = tf.sigmoid(g);
    const silu = tf.mul(g, sg);
    return [tf.mul(tf.mul(dy, u), tf.add(sg, tf.mul(silu, tf.sub(1, sg)))), tf.mul(dy, silu)];
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Cross-entropy

/** Per-row cross-entropy logsumexp(logits) - logits[target], with the closed-form gradient softmax - onehot. */
export function crossEntropyRows(logits: tf.Tensor2D, targets: Int32Array): tf.Tensor1D {
  const [M, V] = logits.shape;
  const native = nativeKernelsActive();
  const f = tf.customGrad(((z0: tf.Tensor2D, save: tf.GradSaveFunc) => {
    save([z0]);
    let value: tf.Tensor1D;
    if (native) {
      value = nativeCrossEntropy(z0, tf.tensor1d(targets, "int32"));
    } else {
      const pick = tf.tensor2d(Int32Array.from({ length: 2 * M }, (_, i) => (i & 1 ? targets[i >> 1] : i >> 1)), [M, 2], "int32");
      const z = tf.sub(z0, tf.max(z0, -1, true)) as tf.Tensor2D;
      value = tf.sub(tf.log(tf.sum(tf.exp(z), -1)), tf.gatherND(z, pick)) as tf.Tensor1D;
    }
    return {
      value,
      gradFunc: (dy: tf.Tensor1D, saved: tf.Tensor[]) =>
        tf.mul(tf.sub(tf.softmax(saved[0]), tf.oneHot(tf.tensor1d(targets, "int32"), V)), dy.reshape([M, 1])),
    };
  }) as unknown as CustomGradFn);
  return f(logits) as tf.Tensor1D;
}

// ---------------------------------------------------------------------------------------------------------------
// Self-attention with rotary position embeddings

/** What attention needs to know about a forward pass: its shape and the RoPE tables of its positions. */
export interface AttentionGeometry {
  config: LlamaConfig;
  batch: number;
  length: number;
  /** Position of the first token (the KV cache's length). */
  start: number;
  tables: RopeTables;
  /** The tfjs attention's constant tensors, made up front when this pass uses the tfjs attention; null on the native path. */
  reference: ReferenceConstants | null;
}

/**
 * The geometry of a pass of B sequences of T tokens from position `start`, `cached` when it reads and extends a KV
 * cache. RoPE tables [length, headSize/2]: pair j of a head turns by pos·θ^(-2j/headSize), computed in float64 and
 * then cast; q's tables also carry the score scale 1/√headSize.
 */
export function attentionGeometry(config: LlamaConfig, batch: number, length: number, start: number, cached: boolean): AttentionGeometry {
  const hs = headSize(config), half = hs / 2, scale = 1 / Math.sqrt(hs);
  const n = length * half;
  const t: RopeTables = { qCos: new Float32Array(n), qSin: new Float32Array(n), kCos: new Float32Array(n), kSin: new Float32Array(n) };
  for (let j = 0; j < half; j++) {
    const freq = Math.pow(ROPE_THETA, -(2 * j) / hs);
    for (let p = 0; p < length; p++) {
      const a = (start + p) * freq, c = Math.cos(a), s = Math.sin(a), i = p * half + j;
      t.kCos[i] = c; t.kSin[i] = s;
      t.qCos[i] = c * scale; t.qSin[i] = s * scale;
    }
  }
  const g: AttentionGeometry = { config, batch, length, start, tables: t, reference: null };
  if (cached || start !== 0 || !nativeKernelsActive()) g.reference = referenceConstants(g);
  return g;
}

/** Keys and values of earlier positions, per layer, for incremental decoding (generate). */
export interface KvCache {
  /** Positions already cached. */
  length: number;
  /** Per layer: keys transposed [B, nKvHeads, headSize, length] and values [B, nKvHeads, length, headSize]. */
  layers: { keysT: tf.Tensor4D; values: tf.Tensor4D }[];
}

/** The constant tensors of the tfjs attention: per-column RoPE tables, the pair rotation and the causal mask. */
interface ReferenceConstants {
  qCos: tf.Tensor2D; qSin: tf.Tensor2D; kCos: tf.Tensor2D; kSin: tf.Tensor2D;
  rotQ: tf.Tensor2D; rotK: tf.Tensor2D;
  mask: tf.Tensor2D | null;
}

/** R with (x·R)[2j] = -x[2j+1], (x·R)[2j+1] = x[2j]: the rotation partner of each RoPE pair (exact: entries ±1, 0). */
function pairRotation(n: number): tf.Tensor2D {
  const r = new Float32Array(n * n);
  for (let j = 0; j < n; j += 2) {
    r[(j + 1) * n + j] = -1;
    r[j * n + j + 1] = 1;
  }
  return tf.tensor2d(r, [n, n]);
}

function referenceConstants(g: AttentionGeometry): ReferenceConstants {
  const c = g.config, T = g.length, hs = headSize(c), half = hs / 2, d = c.dim, kv = kvDim(c);
  // Column col of head-major q/k uses pair (col mod headSize) / 2 of its head; both columns of a pair share it.
  const expand = (table: Float32Array, width: number) => {
    const out = new Float32Array(T * width);
    for (let p = 0; p < T; p++) for (let col = 0; col < width; col++) out[p * width + col] = table[p * half + ((col % hs) >> 1)];
    return tf.tensor2d(out, [T, width]);
  };
  const rotQ = pairRotation(d);
  let mask: tf.Tensor2D | null = null;
  if (T > 1) {
    // T queries at positions start.. over S = start + T keys.
    const S = g.start + T, m = new Float32Array(T * S);
    for (let i = 0; i < T; i++) m.fill(MASKED, i * S + g.start + i + 1, (i + 1) * S);
    mask = tf.tensor2d(m, [T, S]);
  }
  return {
    qCos: expand(g.tables.qCos, d), qSin: expand(g.tables.qSin, d), kCos: expand(g.tables.kCos, kv), kSin: expand(g.tables.kSin, kv),
    rotQ, rotK: kv === d ? rotQ : pairRotation(kv), mask,
  };
}

/** x⊙C + (x·R)⊙S on rows [B·T, width] (tables [T, width] broadcast over the batch). */
function rope(x: tf.Tensor2D, rot: tf.Tensor2D, cos: tf.Tensor2D, sin: tf.Tensor2D, B: number, T: number): tf.Tensor2D {
  const w = x.shape[1];
  return tf.add(tf.mul(x.reshape([B, T, w]), cos), tf.mul(matMul(x, rot).reshape([B, T, w]), sin)).reshape([B * T, w]) as tf.Tensor2D;
}

/** The transpose of rope: dy⊙C + (dy⊙S)·Rᵀ. */
function ropeBackward(dy: tf.Tensor2D, rot: tf.Tensor2D, cos: tf.Tensor2D, sin: tf.Tensor2D, B: number, T: number): tf.Tensor2D {
  const w = dy.shape[1], d3 = dy.reshape([B, T, w]);
  return tf.add(tf.mul(d3, cos).reshape([B * T, w]), matMulNT(tf.mul(d3, sin).reshape([B * T, w]), rot)) as tf.Tensor2D;
}

// Head layouts. Query head h = kvHead·gq + group, so rows [B, T, kvh, gq, hs] → [B, kvh, gq, T, hs] put a kv head's
// queries together: one matmul per (sequence, kv head) instead of repeating keys and values per query head.
function queriesByKvHead(x: tf.Tensor2D, B: number, T: number, c: LlamaConfig): tf.Tensor3D {
  const kvh = c.nKvHeads, gq = c.nHeads / kvh, hs = headSize(c);
  return tf.transpose(x.reshape([B, T, kvh, gq, hs]), [0, 2, 3, 1, 4]).reshape([B * kvh, gq * T, hs]) as tf.Tensor3D;
}

function queryRows(x: tf.Tensor, B: number, T: number, c: LlamaConfig): tf.Tensor2D {
  const kvh = c.nKvHeads, gq = c.nHeads / kvh, hs = headSize(c);
  return tf.transpose(x.reshape([B, kvh, gq, T, hs]), [0, 3, 1, 2, 4]).reshape([B * T, c.dim]) as tf.Tensor2D;
}

/** Rows [B·T, kvDim] → [B, kvh, T, hs]. */
function kvByHead(x: tf.Tensor2D, B: number, T: number, c: LlamaConfig): tf.Tensor4D {
  return tf.transpose(x.reshape([B, T, c.nKvHeads, headSize(c)]), [0, 2, 1, 3]) as tf.Tensor4D;
}

/** softmax(q·kᵀ + mask) [B·kvh, gq·T, S] for queries by kv head and keys transposed [B, kvh, hs, S]. */
function attentionWeights(qh: tf.Tensor3D, keysT: tf.Tensor4D, mask: tf.Tensor2D | null, B: number, T: number, c: LlamaConfig): tf.Tensor3D {
  const kvh = c.nKvHeads, gq = c.nHeads / kvh, hs = headSize(c), S = keysT.shape[3];
  let scores: tf.Tensor = matMul(qh, keysT.reshape([B * kvh, hs, S]) as tf.Tensor3D);
  if (mask) scores = tf.add(scores.reshape([B * kvh, gq, T, S]), mask);
  return tf.softmax(scores).reshape([B * kvh, gq * T, S]) as tf.Tensor3D;
}

/** The tfjs attention, with an optional KV cache. */
function selfAttentionReference(q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D, g: AttentionGeometry, k0: ReferenceConstants,
  cache?: KvCache, layer = 0): tf.Tensor2D {
  const { batch: B, length: T, config: c } = g;
  const hs = headSize(c), kvh = c.nKvHeads;
  const qh = queriesByKvHead(rope(q, k0.rotQ, k0.qCos, k0.qSin, B, T), B, T, c);
  let keysT = tf.transpose(kvByHead(rope(k, k0.rotK, k0.kCos, k0.kSin, B, T), B, T, c), [0, 1, 3, 2]) as tf.Tensor4D;
  let values = kvByHead(v, B, T, c);
  if (cache) {
    const past = cache.layers[layer];
    if (past) {
      keysT = tf.concat([past.keysT, keysT], 3);
      values = tf.concat([past.values, values], 2);
      tf.dispose([past.keysT, past.values]);
    }
    cache.layers[layer] = { keysT: tf.keep(keysT), values: tf.keep(values) };
  }
  const S = keysT.shape[3];
  const att = attentionWeights(qh, keysT, k0.mask, B, T, c);
  return queryRows(matMul(att, values.reshape([B * kvh, S, hs]) as tf.Tensor3D), B, T, c);
}

/**
 * Gradients of the attention (no cache) with respect to q, k, v, from the output's gradient dy [B·T, dim]: the
 * attention weights P are recomputed, then dV = Pᵀ·dO, dS = P⊙(dO·Vᵀ - rowsum(P⊙dO·Vᵀ)), dQ = dS·K, dK = dSᵀ·Q,
 * and RoPE is transposed.
 */
function selfAttentionBackward(dy: tf.Tensor2D, q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D, g: AttentionGeometry): tf.Tensor[] {
  const { batch: B, length: T, config: c } = g;
  const k0 = referenceConstants(g);
  const hs = headSize(c), kvh = c.nKvHeads, kv = kvDim(c);
  const qh = queriesByKvHead(rope(q, k0.rotQ, k0.qCos, k0.qSin, B, T), B, T, c);
  const keys = kvByHead(rope(k, k0.rotK, k0.kCos, k0.kSin, B, T), B, T, c).reshape([B * kvh, T, hs]) as tf.Tensor3D;
  const values = kvByHead(v, B, T, c).reshape([B * kvh, T, hs]) as tf.Tensor3D;
  const p = attentionWeights(qh, tf.transpose(keys.reshape([B, kvh, T, hs]), [0, 1, 3, 2]) as tf.Tensor4D, k0.mask, B, T, c);
  const dOut = queriesByKvHead(dy, B, T, c);
  const dValues = matMulTN(p, dOut);
  const dp = matMulNT(dOut, values);
  const dScores = tf.mul(p, tf.sub(dp, tf.sum(tf.mul(dp, p), -1, true)));
  const dq = queryRows(matMul(dScores, keys), B, T, c);
  const kvRows = (x: tf.Tensor) => tf.transpose(x.reshape([B, kvh, T, hs]), [0, 2, 1, 3]).reshape([B * T, kv]) as tf.Tensor2D;
  const dk = kvRows(matMulTN(dScores, qh));
  return [ropeBackward(dq, k0.rotQ, k0.qCos, k0.qSin, B, T), ropeBackward(dk, k0.rotK, k0.kCos, k0.kSin, B, T), kvRows(dValues)];
}

/**
 * Causal multi-head attention over rows q [B·T, dim], k and v [B·T, kvDim] (before RoPE, which is applied here);
 * returns the heads' outputs [B·T, dim] before wo. With `cache`, the rows continue the cached positions and the
 * cache is extended (tfjs ops only: decoding steps are tiny).
 */
export function selfAttention(q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D, g: AttentionGeometry, cache?: KvCache,
  layer = 0): tf.Tensor2D {
  if (g.reference) return selfAttentionReference(q, k, v, g, g.reference, cache, layer);
  if (cache) throw new Error("selfAttention: this geometry was made for a pass without a KV cache");
  const c = g.config;
  return withGradient([q, k, v],
    (a, b, e) => nativeCausalAttention(a as tf.Tensor2D, b as tf.Tensor2D, e as tf.Tensor2D, g.batch, g.length, c.nHeads,
      c.nKvHeads, g.tables),
    (dy, [a, b, e]) => selfAttentionBackward(dy, a as tf.Tensor2D, b as tf.Tensor2D, e as tf.Tensor2D, g));
}
