// Inference-time non-negative gradient pursuit with each token's own L0 budget (paper §3.10; Blumensath & Davies):
// a better encoder for a fixed decoder, used for Figure 1's "encoder error" band and Figure 10a.
//
// Per token, with s = x − b_dec, D = W_dec [n, d] (rows used as stored, not re-normalised, as the paper does), w = 0
// and budget T (the token's L0 under the SAE's own encoder), for T iterations:
//   1. r = s − wD;  g = rDᵀ.
//   2. S = {i : w_i > 0} ∪ {argmax_i g_i}, the most positive correlation (not |g|).
//   3. u = g restricted to S;  c = uD;  η = ⟨c, r⟩ / ⟨c, c⟩ (exact line search along u).
//   4. w ← max(w + ηu, 0) (clipping can drop atoms).
// Each iteration adds at most one atom, so the final L0 ≤ T. The output is wD + b_dec.
//
// Batched: step 1's g for every token of a batch is one matrix product [B, d]·[d, n] (native sgemm when the OpenBLAS
// bridge loaded, else a JS loop); that product is the whole cost (B·n·d per iteration). It only nominates the argmax
// (whose correlation is then confirmed positive in float64); the step uses g on the support recomputed in float64, so
// each token's arithmetic is float64 throughout and float32 rounding can only affect which of two near-tied atoms wins.
//
// Two choices beyond the paper's description, both documented in the result:
// * The argmax atom joins S only if its correlation is positive: an atom with g ≤ 0 would get a non-positive
//   coefficient and be clipped straight back to 0, but including it would bend the step direction. A token whose
//   support is empty and whose best correlation is ≤ 0 stops (w = 0 is then optimal); so does one whose step is zero.
// * Safeguard (default on): exact line search makes w + ηu no worse than w, but clipping negative coefficients to 0
//   can, in rare cases, increase the residual. When it would, the step is shortened to the largest η' ≤ η that keeps
//   every coefficient ≥ 0 (the atoms reaching 0 are dropped), which cannot increase it (the residual along the ray is
//   a convex quadratic minimised at η). So the residual norm never increases. `safeguard: false` is the paper as is.
import { InputError } from "../errors";
import { loadNativeBlas } from "../backend/native";
import { Progress } from "../progress";

/** An SAE decoder used as the pursuit dictionary. */
export interface PursuitDictionary {
  /** W_dec, row-major [latents, d]: row i is latent i's decoder direction. */
  decoder: Float32Array;
  latents: number;
  d: number;
  /** b_dec [d]; absent or null = zeros. */
  bias?: Float32Array | null;
}

export interface PursuitOptions {
  /** Tokens per batch (default 256, the paper's). Scratch memory is batchSize × latents float32. */
  batchSize?: number;
  /** Shorten clipping steps that would increase the residual (default true; false = the paper's algorithm exactly). */
  safeguard?: boolean;
  /** Keep every token's residual norm after each iteration (default false; tokens × (max budget + 1) float64). */
  recordTokenHistory?: boolean;
  /** Use the native sgemm when it loaded (default true). */
  native?: boolean;
  progress?: Progress;
}

/** Non-negative coefficients in compressed sparse rows: token t's latents are indices[rowPtr[t] … rowPtr[t+1]) (the
 * layout of probe-vs-latent's SparseLatents, so pursuit codes can go wherever SAE codes go). */
export interface SparseCodes {
  rowPtr: Uint32Array;
  /** Latent ids, ascending within a token. */
  indices: Uint32Array;
  values: Float32Array;
}

export interface PursuitResult {
  tokens: number;
  d: number;
  latents: number;
  /** wD + b_dec, row-major [tokens, d]. */
  reconstructions: Float32Array;
  codes: SparseCodes;
  /** Latents used per token (≤ its budget). */
  l0: Uint32Array;
  /** Steps taken per token (its budget, or fewer when it stopped early). */
  iterations: Uint32Array;
  /** Σ_t ‖x_t − reconstruction_t‖² after k = 0 … max budget iterations (a stopped token keeps its last value). */
  residualEnergy: Float64Array;
  /** Per token ‖x_t − reconstruction_t‖ after each iteration, row-major [tokens, max budget + 1]; null unless asked. */
  tokenResidualNorms: Float64Array | null;
  /** Steps the safeguard shortened (0 with `safeguard: false`). */
  safeguardedSteps: number;
  safeguard: boolean;
  /** Whether the native sgemm computed the correlations. */
  native: boolean;
}

const MAX_SCRATCH = 2 ** 28; // float32 entries of the [batch, latents] correlation matrix (1 GiB)
const MAX_HISTORY = 2 ** 27;

type Correlate = (m: number, r: Float32Array, g: Float32Array) => void;

function correlator(D: Float32Array, n: number, d: number, native: boolean): { run: Correlate; native: boolean } {
  const blas = native ? loadNativeBlas().blas : null;
  if (blas) return { native: true, run: (m, r, g) => blas.sgemm(false, true, m, n, d, 1, r, d, D, d, 0, g, n) };
  return {
    native: false,
    run: (m, r, g) => {
      for (let b = 0; b < m; b++) {
        const ro = b * d, go = b * n;
        for (let i = 0; i < n; i++) {
          const o = i * d;
          let s = 0;
          for (let j = 0; j < d; j++) s += r[ro + j] * D[o + j];
          g[go + i] = s;
        }
      }
    },
  };
}

function checkBudgets(budgets: ArrayLike<number> | number, tokens: number): Uint32Array {
  const out = new Uint32Array(tokens);
  const check = (v: number, where: string) => {
    if (!Number.isSafeInteger(v) || v < 0 || v > 0xffffffff) throw new InputError("budgets", `${where} must be a non-negative integer, got ${v}`);
    return v;
  };
  if (typeof budgets === "number") out.fill(check(budgets, "the budget"));
  else {
    if (!budgets || budgets.length !== tokens) throw new InputError("budgets", `has ${budgets?.length} entries, expected one per token (${tokens})`);
    for (let t = 0; t < tokens; t++) out[t] = check(budgets[t], `entry ${t}`);
  }
  return out;
}

/**
 * Non-negative gradient pursuit of each row of x [tokens, d] over the SAE decoder, token t using at most budgets[t]
 * latents (a number gives every token the same budget).
 */
export function gradientPursuit(dict: PursuitDictionary, x: Float32Array, budgets: ArrayLike<number> | number, options: PursuitOptions = {}): PursuitResult {
  const { latents: n, d } = dict;
  if (!Number.isSafeInteger(d) || d < 1) throw new InputError("d", `must be a positive integer, got ${d}`);
  if (!Number.isSafeInteger(n) || n < 1) throw new InputError("latents", `must be a positive integer, got ${n}`);
  const D = dict.decoder;
  if (!(D instanceof Float32Array) || D.length !== n * d) throw new InputError("decoder", `must be a Float32Array of latents × d = ${n} × ${d} values, got ${D?.length}`);
  for (let i = 0; i < D.length; i++) if (!Number.isFinite(D[i])) throw new InputError("decoder", `row ${Math.floor(i / d)} holds NaN or ±Inf`);
  const bias = dict.bias ?? null;
  if (bias !== null && (!(bias instanceof Float32Array) || bias.length !== d)) throw new InputError("bias", `must be a Float32Array of d = ${d} values, got ${bias?.length}`);
  if (bias) for (let j = 0; j < d; j++) if (!Number.isFinite(bias[j])) throw new InputError("bias", `entry ${j} is not finite`);
  if (!(x instanceof Float32Array) || x.length % d !== 0) throw new InputError("x", `must be a Float32Array of tokens × d (d = ${d}), got ${x?.length} values`);
  const tokens = x.length / d;
  for (let t = 0; t < tokens; t++) {
    for (let j = 0; j < d; j++) if (!Number.isFinite(x[t * d + j])) throw new InputError("x", `row ${t} holds NaN or ±Inf`);
  }
  const T = checkBudgets(budgets, tokens);
  const batchSize = options.batchSize ?? 256;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new InputError("batchSize", `must be a positive integer, got ${batchSize}`);
  const B = Math.min(batchSize, Math.max(1, tokens));
  if (B * n > MAX_SCRATCH) throw new InputError("batchSize", `${B} × ${n} latents needs ${((B * n * 4) / 2 ** 30).toFixed(1)} GiB of scratch; use batchSize ≤ ${Math.floor(MAX_SCRATCH / n)}`);
  let maxT = 0;
  for (let t = 0; t < tokens; t++) maxT = Math.max(maxT, Math.min(T[t], n));
  const history = options.recordTokenHistory ?? false;
  if (history && tokens * (maxT + 1) > MAX_HISTORY) throw new InputError("recordTokenHistory", `${tokens} tokens × ${maxT + 1} iterations is too many to record; record a subset of tokens`);
  const safeguard = options.safeguard ?? true;
  const corr = correlator(D, n, d, options.native ?? true);

  const reconstructions = new Float32Array(tokens * d);
  const l0 = new Uint32Array(tokens), iterations = new Uint32Array(tokens);
  const residualEnergy = new Float64Array(maxT + 1);
  const tokenNorms = history ? new Float64Array(tokens * (maxT + 1)) : null;
  const codeIdx: number[][] = new Array(tokens);
  const codeVal: number[][] = new Array(tokens);
  let safeguardedSteps = 0;

  // Scratch reused across batches.
  const g = new Float32Array(B * n);
  const rf = new Float32Array(B * d);
  const s = new Float64Array(B * d), r = new Float64Array(B * d);
  const c = new Float64Array(d), rNew = new Float64Array(d);
  const active = new Int32Array(B);

  for (let start = 0; start < tokens; start += B) {
    const rows = Math.min(B, tokens - start);
    const support: number[][] = [], coef: number[][] = [];
    const energy = new Float64Array(rows);
    const budget = new Uint32Array(rows);
    const done = new Uint8Array(rows);
    let batchT = 0;
    for (let b = 0; b < rows; b++) {
      const t = start + b;
      let e = 0;
      for (let j = 0; j < d; j++) {
        const v = x[t * d + j] - (bias ? bias[j] : 0);
        s[b * d + j] = v; r[b * d + j] = v; e += v * v;
      }
      energy[b] = e;
      support.push([]); coef.push([]);
      budget[b] = Math.min(T[t], n);
      batchT = Math.max(batchT, budget[b]);
      if (tokenNorms) tokenNorms[t * (maxT + 1)] = Math.sqrt(e);
    }
    for (let b = 0; b < rows; b++) residualEnergy[0] += energy[b];

    for (let k = 0; k < batchT; k++) {
      let m = 0;
      for (let b = 0; b < rows; b++) if (!done[b] && k < budget[b]) active[m++] = b;
      for (let q = 0; q < m; q++) {
        const b = active[q];
        for (let j = 0; j < d; j++) rf[q * d + j] = r[b * d + j];
      }
      if (m > 0) corr.run(m, rf, g);
      for (let q = 0; q < m; q++) {
        const b = active[q], ro = b * d, go = q * n;
        const S = support[b], w = coef[b];
        let best = -1, bestG = 0;
        for (let i = 0; i < n; i++) if (g[go + i] > bestG) { bestG = g[go + i]; best = i; }
        // The float32 product only nominates the atom; its correlation is confirmed in float64.
        if (best >= 0 && !S.includes(best) && dot(r, ro, D, best * d, d) > 0) { S.push(best); w.push(0); }
        if (S.length === 0) { done[b] = 1; continue; }
        // u = g on S in float64, c = uD, exact line search.
        const u = S.map((i) => dot(r, ro, D, i * d, d));
        c.fill(0);
        for (let p = 0; p < S.length; p++) axpy(u[p], D, S[p] * d, c, d);
        let cc = 0, cr = 0;
        for (let j = 0; j < d; j++) { cc += c[j] * c[j]; cr += c[j] * r[ro + j]; }
        if (!(cc > 0) || !(cr > 0)) { dropZeros(S, w); done[b] = 1; continue; }
        const eta = cr / cc;
        let next = w.map((wi, p) => Math.max(wi + eta * u[p], 0));
        let e = residualInto(s, ro, D, S, next, d, rNew);
        if (safeguard && e > energy[b] * (1 + 1e-12)) {
          // Largest feasible step along u: stop where the first coefficient reaches 0.
          let etaF = eta;
          for (let p = 0; p < S.length; p++) if (u[p] < 0) etaF = Math.min(etaF, -w[p] / u[p]);
          next = w.map((wi, p) => (u[p] < 0 && wi + etaF * u[p] <= 1e-12 * Math.abs(wi) ? 0 : Math.max(wi + etaF * u[p], 0)));
          e = residualInto(s, ro, D, S, next, d, rNew);
          safeguardedSteps++;
        }
        for (let p = 0; p < S.length; p++) w[p] = next[p];
        dropZeros(S, w);
        for (let j = 0; j < d; j++) r[ro + j] = rNew[j];
        energy[b] = e;
        iterations[start + b]++;
      }
      // Energy after iteration k + 1 (stopped tokens keep their value).
      for (let b = 0; b < rows; b++) {
        residualEnergy[k + 1] += energy[b];
        if (tokenNorms) tokenNorms[(start + b) * (maxT + 1) + k + 1] = Math.sqrt(energy[b]);
      }
    }
    for (let kk = batchT + 1; kk <= maxT; kk++) {
      for (let b = 0; b < rows; b++) {
        residualEnergy[kk] += energy[b];
        if (tokenNorms) tokenNorms[(start + b) * (maxT + 1) + kk] = Math.sqrt(energy[b]);
      }
    }
    for (let b = 0; b < rows; b++) {
      const t = start + b;
      const order = support[b].map((_, p) => p).sort((p1, p2) => support[b][p1] - support[b][p2]);
      codeIdx[t] = order.map((p) => support[b][p]);
      codeVal[t] = order.map((p) => coef[b][p]);
      l0[t] = order.length;
      for (let j = 0; j < d; j++) reconstructions[t * d + j] = x[t * d + j] - r[b * d + j];
    }
    options.progress?.(start + rows, tokens, "gradient pursuit");
  }

  const rowPtr = new Uint32Array(tokens + 1);
  for (let t = 0; t < tokens; t++) rowPtr[t + 1] = rowPtr[t] + l0[t];
  const indices = new Uint32Array(rowPtr[tokens]), values = new Float32Array(rowPtr[tokens]);
  for (let t = 0; t < tokens; t++) { indices.set(codeIdx[t], rowPtr[t]); values.set(codeVal[t], rowPtr[t]); }
  return {
    tokens, d, latents: n, reconstructions, codes: { rowPtr, indices, values }, l0, iterations, residualEnergy,
    tokenResidualNorms: tokenNorms, safeguardedSteps, safeguard, native: corr.native,
  };
}

function dot(a: Float64Array, ao: number, b: Float32Array, bo: number, len: number): number {
  let s = 0;
  for (let j = 0; j < len; j++) s += a[ao + j] * b[bo + j];
  return s;
}

function axpy(alpha: number, x: Float32Array, xo: number, y: Float64Array, len: number): void {
  for (let j = 0; j < len; j++) y[j] += alpha * x[xo + j];
}

/** out = s − Σ_p w_p D[S_p]; returns ‖out‖². */
function residualInto(s: Float64Array, so: number, D: Float32Array, S: number[], w: number[], d: number, out: Float64Array): number {
  for (let j = 0; j < d; j++) out[j] = s[so + j];
  for (let p = 0; p < S.length; p++) if (w[p] !== 0) axpy(-w[p], D, S[p] * d, out, d);
  let e = 0;
  for (let j = 0; j < d; j++) e += out[j] * out[j];
  return e;
}

function dropZeros(S: number[], w: number[]): void {
  let k = 0;
  for (let p = 0; p < S.length; p++) if (w[p] > 0) { S[k] = S[p]; w[k] = w[p]; k++; }
  S.length = k; w.length = k;
}
