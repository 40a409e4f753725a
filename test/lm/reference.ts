// Independent references written from llama2.c's run.c, not from src/lm: a float64 scalar forward over one sequence
// (position by position with a KV cache, as run.c does) and run.c's quadratic BPE encode loop.
import type { LlamaWeights } from "../../src/lm/checkpoint";

function rmsnorm(x: Float64Array, w: Float32Array, wOff: number): Float64Array {
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += x[i] * x[i];
  const scale = 1 / Math.sqrt(ss / x.length + 1e-5);
  const o = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) o[i] = w[wOff + i] * (scale * x[i]);
  return o;
}

/** W (rows×cols at offset, row-major, as stored) times x. */
function matvec(w: Float32Array, off: number, rows: number, cols: number, x: Float64Array): Float64Array {
  const o = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    const base = off + r * cols;
    for (let c = 0; c < cols; c++) s += w[base + c] * x[c];
    o[r] = s;
  }
  return o;
}

/** Logits [T, vocab] and, per layer, resid_post [T, dim] for one token sequence. */
export function referenceForward(w: LlamaWeights, tokens: ArrayLike<number>): { logits: Float64Array[]; residPost: Float64Array[][] } {
  const p = w.config;
  const dim = p.dim, hidden = p.hiddenDim, hs = dim / p.nHeads, kvDim = (dim * p.nKvHeads) / p.nHeads;
  const kvMul = p.nHeads / p.nKvHeads;
  const keyCache: Float64Array[][] = Array.from({ length: p.nLayers }, () => []);
  const valueCache: Float64Array[][] = Array.from({ length: p.nLayers }, () => []);
  const logits: Float64Array[] = [];
  const residPost: Float64Array[][] = Array.from({ length: p.nLayers }, () => []);
  for (let pos = 0; pos < tokens.length; pos++) {
    const x = Float64Array.from(w.tokenEmbedding.subarray(tokens[pos] * dim, (tokens[pos] + 1) * dim));
    for (let l = 0; l < p.nLayers; l++) {
      let xb = rmsnorm(x, w.rmsAtt, l * dim);
      const q = matvec(w.wq, l * dim * dim, dim, dim, xb);
      const k = matvec(w.wk, l * kvDim * dim, kvDim, dim, xb);
      const v = matvec(w.wv, l * kvDim * dim, kvDim, dim, xb);
      for (let i = 0; i < dim; i += 2) {
        const headDim = i % hs;
        const freq = 1 / Math.pow(10000, headDim / hs);
        const val = pos * freq;
        const fcr = Math.cos(val), fci = Math.sin(val);
        for (const vec of i < kvDim ? [q, k] : [q]) {
          const v0 = vec[i], v1 = vec[i + 1];
          vec[i] = v0 * fcr - v1 * fci;
          vec[i + 1] = v0 * fci + v1 * fcr;
        }
      }
      keyCache[l].push(k);
      valueCache[l].push(v);
      xb = new Float64Array(dim);
      for (let h = 0; h < p.nHeads; h++) {
        const kvOff = Math.floor(h / kvMul) * hs;
        const att = new Float64Array(pos + 1);
        let max = -Infinity;
        for (let t = 0; t <= pos; t++) {
          let score = 0;
          for (let i = 0; i < hs; i++) score += q[h * hs + i] * keyCache[l][t][kvOff + i];
          att[t] = score / Math.sqrt(hs);
          max = Math.max(max, att[t]);
        }
        let sum = 0;
        for (let t = 0; t <= pos; t++) { att[t] = Math.exp(att[t] - max); sum += att[t]; }
        for (let t = 0; t <= pos; t++) {
          const a = att[t] / sum;
          for (let i = 0; i < hs; i++) xb[h * hs + i] += a * valueCache[l][t][kvOff + i];
        }
      }
      const xb2 = matvec(w.wo, l * dim * dim, dim, dim, xb);
      for (let i = 0; i < dim; i++) x[i] += xb2[i];
      xb = rmsnorm(x, w.rmsFfn, l * dim);
      const hb = matvec(w.w1, l * hidden * dim, hidden, dim, xb);
      const hb2 = matvec(w.w3, l * hidden * dim, hidden, dim, xb);
      for (let i = 0; i < hidden; i++) hb[i] = (hb[i] / (1 + Math.exp(-hb[i]))) * hb2[i];
      const down = matvec(w.w2, l * dim * hidden, dim, hidden, hb);
      for (let i = 0; i < dim; i++) x[i] += down[i];
      residPost[l].push(Float64Array.from(x));
    }
    const xf = rmsnorm(x, w.rmsFinal, 0);
    logits.push(matvec(w.wcls ?? w.tokenEmbedding, 0, p.vocabSize, dim, xf));
  }
  return { logits, residPost };
}

/** run.c's encode, literally: per-code-point lookup with byte fallback, then rescan-all best-pair merges. */
export function referenceEncode(pieces: Uint8Array[], scores: Float32Array, text: string, bos: boolean): number[] {
  const key = (b: Uint8Array) => Array.from(b, (c) => String.fromCharCode(c)).join("");
  const keys = pieces.map(key);
  const ids = new Map<string, number>();
  keys.forEach((k, i) => { if (!ids.has(k)) ids.set(k, i); });
  const lookup = (s: string) => ids.get(s) ?? -1;
  const tokens: number[] = [];
  if (bos) tokens.push(1);
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length > 0) tokens.push(lookup(" "));
  let buf: number[] = [];
  for (let c = 0; c < bytes.length; c++) {
    if ((bytes[c] & 0xc0) !== 0x80) buf = [];
    buf.push(bytes[c]);
    if (c + 1 < bytes.length && (bytes[c + 1] & 0xc0) === 0x80 && buf.length < 4) continue;
    const id = lookup(String.fromCharCode(...buf));
    if (id !== -1) tokens.push(id);
    else for (const b of buf) tokens.push(b + 3);
    buf = [];
  }
  for (;;) {
    let bestScore = -1e10, bestId = -1, bestIdx = -1;
    for (let i = 0; i < tokens.length - 1; i++) {
      const id = lookup(keys[tokens[i]] + keys[tokens[i + 1]]);
      if (id !== -1 && scores[id] > bestScore) { bestScore = scores[id]; bestId = id; bestIdx = i; }
    }
    if (bestIdx === -1) break;
    tokens.splice(bestIdx, 2, bestId);
  }
  return tokens;
}
