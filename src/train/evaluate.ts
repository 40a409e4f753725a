// Held-out evaluation of an SAE in the canonical layout: FVU (against the evaluation rows' own mean), measured L0
// and the fraction of latents that never fire on those rows.
import { InputError } from "../errors";
import { initBackend } from "../backend/index";
import { chunkRowsFor, encoderProduct, forEachPreChunk } from "./dense";
import { KernelArena, MAX_ARENA_BYTES } from "./kernels";
import { RowScratch, SparseActs, decode, selectAboveThreshold, selectTopK } from "./sparse";
import type { TrainingData } from "./data";

/** SAE weights in the canonical layout (formats-and-metrics.md §1). */
export interface SaeWeights {
  architecture: "topk" | "jumprelu";
  /** Latents kept per token (topk); for a jumprelu trained as BatchTopK, the training k. */
  k: number;
  d_in: number;
  d_sae: number;
  /** pre = (x − b_dec·apply_b_dec_to_input)·W_enc + b_enc. */
  apply_b_dec_to_input: boolean;
  W_enc: Float32Array;
  b_enc: Float32Array;
  W_dec: Float32Array;
  b_dec: Float32Array;
  /** Per-latent JumpReLU threshold (jumprelu only). */
  threshold?: Float32Array;
}

export interface EvalResult {
  /** Rows evaluated (also the window of deadFraction, in tokens). */
  rows: number;
  /** Σ‖x − x̂‖² / Σ‖x − x̄‖², x̄ the per-dimension mean of the evaluated rows. */
  fvu: number;
  /** Mean number of active latents per row. */
  l0: number;
  /** Fraction of latents that fire on none of the evaluated rows (window = `rows` tokens). */
  deadFraction: number;
}

function checkWeights(w: SaeWeights): void {
  const where = "SAE weights";
  const { d_in: d, d_sae: n } = w;
  if (!Number.isInteger(d) || d < 1 || !Number.isInteger(n) || n < 1) throw new InputError(where, `d_in and d_sae must be positive integers, got ${d}, ${n}`);
  const expect: [string, Float32Array | undefined, number][] = [["W_enc", w.W_enc, d * n], ["b_enc", w.b_enc, n], ["W_dec", w.W_dec, n * d], ["b_dec", w.b_dec, d]];
  if (w.architecture === "jumprelu") expect.push(["threshold", w.threshold, n]);
  else if (w.architecture === "topk") {
    if (!Number.isInteger(w.k) || w.k < 1 || w.k > n) throw new InputError(where, `k must be an integer in [1, ${n}], got ${w.k}`);
  } else throw new InputError(where, `architecture must be "topk" or "jumprelu", got ${String(w.architecture)}`);
  for (const [name, arr, len] of expect) {
    if (!(arr instanceof Float32Array) || arr.length !== len) throw new InputError(where, `${name} must be a Float32Array of length ${len}, got ${arr ? arr.length : "none"}`);
  }
}

/** Evaluates `sae` on every row of `data`, `batchSize` rows at a time. */
export async function evaluateSae(sae: SaeWeights, data: TrainingData, options: { batchSize?: number } = {}): Promise<EvalResult> {
  checkWeights(sae);
  const { d_in: d, d_sae: n } = sae;
  if (data.d !== d) throw new InputError(`evaluation data (${data.description})`, `rows are ${data.d} wide but the SAE expects d_in = ${d}`);
  if (data.rows < 1) throw new InputError(`evaluation data (${data.description})`, "has no rows");
  const batch = Math.min(options.batchSize ?? 1024, data.rows);
  if (!Number.isInteger(batch) || batch < 1) throw new InputError("evaluateSae batchSize", `must be a positive integer, got ${options.batchSize}`);
  await initBackend();
  const product = encoderProduct();

  const chunkRows = chunkRowsFor(batch, n);
  const bytes = KernelArena.bytesFor([n * d, n * d, n, d, n, batch * d, batch * d, batch * d, chunkRows * n, n, n]);
  if (bytes > MAX_ARENA_BYTES) throw new InputError("evaluateSae", `d_sae=${n}, d_in=${d} need ${(bytes / 2 ** 30).toFixed(2)} GiB of kernel memory; lower batchSize`);
  const arena = new KernelArena(bytes);
  const WencT = arena.floats(n * d), Wdec = arena.floats(n * d), benc = arena.floats(n), bdec = arena.floats(d);
  const above = arena.floats(n);
  const x = arena.floats(batch * d), xc = arena.floats(batch * d), xhat = arena.floats(batch * d), pre = arena.floats(chunkRows * n);
  const scratch = new RowScratch(arena, n);
  for (let t = 0; t < d; t++) for (let j = 0; j < n; j++) WencT[j * d + t] = sae.W_enc[t * n + j];
  Wdec.set(sae.W_dec);
  benc.set(sae.b_enc);
  bdec.set(sae.b_dec);
  if (sae.threshold) for (let j = 0; j < n; j++) above[j] = Math.max(sae.threshold[j], 0);

  // Centred sums of squares are accumulated around a shift (the first batch's mean) to avoid cancellation.
  const shift = new Float64Array(d), sum = new Float64Array(d), sumSq = new Float64Array(d), fired = new Uint8Array(n);
  let sse = 0, active = 0;
  for (let start = 0; start < data.rows; start += batch) {
    const rows = Math.min(batch, data.rows - start);
    const indices = new Int32Array(rows).map((_, i) => start + i);
    await data.read(indices, x.subarray(0, rows * d));
    xc.set(x.subarray(0, rows * d));
    if (sae.apply_b_dec_to_input) for (let b = 0; b < rows; b++) arena.k.axpy(-1, bdec.byteOffset, xc.byteOffset + 4 * b * d, d);
    if (start === 0) {
      for (let i = 0; i < rows * d; i++) shift[i % d] += x[i] / rows;
    }
    const acts = new SparseActs(rows, rows * Math.min(sae.architecture === "topk" ? sae.k : 64, n));
    forEachPreChunk(product, xc, WencT, pre, rows, n, d, (r0, count) => {
      if (sae.architecture === "topk") selectTopK(arena.k, scratch, pre, benc, count, n, sae.k, acts, r0);
      else selectAboveThreshold(arena.k, scratch, pre, benc, above, count, n, acts, r0);
    });
    decode(arena.k, acts, Wdec, bdec, xhat, d);
    for (let i = 0; i < rows * d; i++) {
      const v = x[i];
      if (!Number.isFinite(v)) throw new InputError(`evaluation data (${data.description})`, `row ${start + Math.floor(i / d)} has a non-finite value`);
      sse += (xhat[i] - v) ** 2;
      const c = v - shift[i % d];
      sum[i % d] += c;
      sumSq[i % d] += c * c;
    }
    active += acts.nnz;
    for (let p = 0; p < acts.nnz; p++) fired[acts.idx[p]] = 1;
  }
  let centred = 0;
  for (let t = 0; t < d; t++) centred += sumSq[t] - (sum[t] * sum[t]) / data.rows;
  let dead = 0;
  for (let j = 0; j < n; j++) if (!fired[j]) dead++;
  return { rows: data.rows, fvu: centred > 0 ? sse / centred : NaN, l0: active / data.rows, deadFraction: dead / n };
}
