// The Hugging Face forward's operations on host Float32Arrays (row-major), each through the native addon
// (native/lm_kernels.c, OpenBLAS sgemm) when it is loaded, else plain TypeScript (tfjs for the matmul) — the same
// arithmetic in float32, so both paths agree to rounding. Nothing here touches the wasm heap except the fallback matmul.
import { loadNativeBlas, matMulNT, tf } from "../backend/index";
import type { NativeBlas } from "../backend/index";

interface HfNative extends NativeBlas {
  rmsNorm(rows: number, d: number, eps: number, x: Float32Array, w: Float32Array, y: Float32Array): void;
  swiglu(n: number, g: Float32Array, u: Float32Array, y: Float32Array): void;
  gegluTanh(n: number, g: Float32Array, u: Float32Array, y: Float32Array): void;
  toFloat32(kind: number, n: number, src: Uint16Array, dst: Float32Array): void;
  logitsLse(rows: number, V: number, v0: number, z: Float32Array, cap: number, targets: Int32Array, max: Float32Array,
    sum: Float32Array, picked: Float32Array): void;
  causalAttention(B: number, T: number, nHeads: number, nKvHeads: number, headSize: number, q: Float32Array,
    k: Float32Array, v: Float32Array, qCos: Float32Array, qSin: Float32Array, kCos: Float32Array, kSin: Float32Array,
    out: Float32Array, softcap: number, window: number): void;
}

/** The addon when it has every kernel the HF forward uses, else null. */
export function hfNative(): HfNative | null {
  const b = loadNativeBlas().blas as Partial<HfNative> | null;
  return b && typeof b.toFloat32 === "function" && typeof b.logitsLse === "function" && typeof b.gegluTanh === "function" &&
    typeof b.causalAttention === "function" ? (b as HfNative) : null;
}

/** Which implementation runs: the native kernels, or TypeScript. */
export interface Kernels { native: HfNative | null }

/** bfloat16 / float16 raw bits → float32 into `out`. */
export function halfToFloat32(k: Kernels, dtype: "bfloat16" | "float16", src: Uint16Array, out: Float32Array): void {
  if (k.native) { k.native.toFloat32(dtype === "bfloat16" ? 0 : 1, src.length, src, out); return; }
  if (dtype === "bfloat16") {
    const u = new Uint32Array(out.buffer, out.byteOffset, src.length);
    for (let i = 0; i < src.length; i++) u[i] = src[i] << 16;
    return;
  }
  for (let i = 0; i < src.length; i++) {
    const h = src[i], e = (h >> 10) & 0x1f, m = h & 0x3ff, s = h & 0x8000 ? -1 : 1;
    out[i] = e === 0x1f ? (m ? NaN : s * Infinity) : e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
  }
}

/** y [M, N] = x [M, K] · w [N, K]ᵀ (+ bias [N]). */
export function linear(k: Kernels, x: Float32Array, M: number, K: number, w: Float32Array, N: number, bias: Float32Array | null,
  out = new Float32Array(M * N)): Float32Array {
  if (k.native) k.native.sgemm(false, true, M, N, K, 1, x, K, w, K, 0, out, N);
  else {
    const r = tf.tidy(() => matMulNT(tf.tensor2d(x, [M, K]), tf.tensor2d(w, [N, K])).dataSync() as Float32Array);
    out.set(r);
  }
  if (bias) for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) out[i * N + j] += bias[j];
  return out;
}

/** x / √(mean(x²) + eps) ⊙ w per row of width d. */
export function rmsNorm(k: Kernels, x: Float32Array, d: number, w: Float32Array, eps: number): Float32Array {
  const y = new Float32Array(x.length);
  const rows = x.length / d;
  if (k.native) { k.native.rmsNorm(rows, d, eps, x, w, y); return y; }
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let i = 0; i < d; i++) ss += x[r * d + i] * x[r * d + i];
    const inv = Math.fround(1 / Math.sqrt(Math.fround(ss / d) + eps));
    for (let i = 0; i < d; i++) y[r * d + i] = x[r * d + i] * inv * w[i];
  }
  return y;
}

/** act(gate) ⊙ up: SwiGLU (silu) or GeGLU with the tanh GELU. */
export function gated(k: Kernels, act: "silu" | "gelu_tanh", g: Float32Array, u: Float32Array): Float32Array {
  const y = new Float32Array(g.length);
  if (k.native) { (act === "silu" ? k.native.swiglu : k.native.gegluTanh)(g.length, g, u, y); return y; }
  const c = Math.sqrt(2 / Math.PI);
  for (let i = 0; i < g.length; i++) {
    const x = g[i];
    y[i] = act === "silu" ? (x / (1 + Math.exp(-x))) * u[i] : 0.5 * x * (1 + Math.tanh(c * (x + 0.044715 * x * x * x))) * u[i];
  }
  return y;
}

export interface AttentionShape {
  B: number; T: number; nHeads: number; nKv: number; hd: number;
  /** [T, hd/2]: cos/sin of pair j at position t; q's are multiplied by the score scale. */
  qCos: Float32Array; qSin: Float32Array; kCos: Float32Array; kSin: Float32Array;
  softcap: number;
  window: number;
}

/**
 * Causal attention with RoPE on interleaved pairs (2j, 2j+1) of every head (the loader permutes Hugging Face's
 * rotate-half layout into this), optional score soft-capping and sliding window. q [B·T, nHeads·hd], k/v [B·T, nKv·hd].
 */
export function attention(k: Kernels, q: Float32Array, kk: Float32Array, v: Float32Array, s: AttentionShape): Float32Array {
  const { B, T, nHeads, nKv, hd } = s;
  const out = new Float32Array(B * T * nHeads * hd);
  if (k.native) {
    k.native.causalAttention(B, T, nHeads, nKv, hd, q, kk, v, s.qCos, s.qSin, s.kCos, s.kSin, out, s.softcap, s.window);
    return out;
  }
  const half = hd / 2, dq = nHeads * hd, dk = nKv * hd, g = nHeads / nKv;
  const rot = (src: Float32Array, off: number, t: number, cos: Float32Array, sin: Float32Array, dst: Float32Array) => {
    for (let j = 0; j < half; j++) {
      const a = src[off + 2 * j], b = src[off + 2 * j + 1], c = cos[t * half + j], sn = sin[t * half + j];
      dst[2 * j] = a * c - b * sn; dst[2 * j + 1] = b * c + a * sn;
    }
  };
  const keys = new Float32Array(T * hd), qr = new Float32Array(hd), scores = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < nHeads; h++) {
      const kh = Math.floor(h / g);
      for (let t = 0; t < T; t++) rot(kk, (b * T + t) * dk + kh * hd, t, s.kCos, s.kSin, keys.subarray(t * hd, (t + 1) * hd));
      for (let t = 0; t < T; t++) {
        rot(q, (b * T + t) * dq + h * hd, t, s.qCos, s.qSin, qr);
        const lo = s.window > 0 ? Math.max(0, t - s.window + 1) : 0;
        let m = -Infinity;
        for (let j = lo; j <= t; j++) {
          let dot = 0;
          for (let i = 0; i < hd; i++) dot += qr[i] * keys[j * hd + i];
          if (s.softcap > 0) dot = s.softcap * Math.tanh(dot / s.softcap);
          scores[j] = dot;
          m = Math.max(m, dot);
        }
        let sum = 0;
        for (let j = lo; j <= t; j++) { scores[j] = Math.exp(scores[j] - m); sum += scores[j]; }
        const o = (b * T + t) * dq + h * hd;
        for (let j = lo; j <= t; j++) {
          const p = scores[j] / sum, vo = (b * T + j) * dk + kh * hd;
          for (let i = 0; i < hd; i++) out[o + i] += p * v[vo + i];
        }
      }
    }
  }
  return out;
}

/**
 * Folds a block of logits z [rows, V] (vocabulary ids v0 …) into running log-sum-exp state and picks the targets'
 * logits; soft-caps z in place first when cap > 0 (so z is the final logits afterwards).
 */
export function logitsLse(k: Kernels, z: Float32Array, rows: number, V: number, v0: number, cap: number, targets: Int32Array,
  max: Float32Array, sum: Float32Array, picked: Float32Array): void {
  if (k.native) { k.native.logitsLse(rows, V, v0, z, cap, targets, max, sum, picked); return; }
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let j = 0; j < V; j++) {
      if (cap > 0) z[r * V + j] = cap * Math.tanh(z[r * V + j] / cap);
      m = Math.max(m, z[r * V + j]);
    }
    const t = targets[r] - v0;
    if (t >= 0 && t < V) picked[r] = z[r * V + t];
    const mm = Math.max(m, max[r]);
    let s = sum[r] * Math.exp(max[r] - mm);
    for (let j = 0; j < V; j++) s += Math.exp(z[r * V + j] - mm);
    sum[r] = s; max[r] = mm;
  }
}
