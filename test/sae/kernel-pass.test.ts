// The kernel path of the forward (kernel-pass.ts: host encoder product, SIMD selection into sparse rows, SIMD
// decode) against plain loops, on every backend. Weights and inputs are small multiples of powers of two, so every
// pre-activation is exact in float32 whatever the summation order: ties are real ties and the expected latents are
// known exactly. The tfjs path (encodeDense: tf.topk / step on the backend) must agree with it too.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { availableBackends, initBackend, tf } from "../../src/backend/index";
import { ForwardOptions, Sae, SparseLatents } from "../../src/sae/index";
import { KernelPass } from "../../src/sae/kernel-pass";
import { rng } from "../helpers/random";
import { assertClose, denseOf } from "./helpers";

const D_IN = 6, D_SAE = 37, K = 5;

interface Problem {
  x: Float32Array;
  rows: number;
  W_enc: Float32Array;
  W_dec: Float32Array;
  b_enc: Float32Array;
  b_dec: Float32Array;
}

/** A value from `choices` (all exact in float32 and small, so sums of products stay exact). */
function pick(u: () => number, choices: number[]): number {
  return choices[Math.floor(u() * choices.length)];
}

/**
 * Random exact weights and inputs with: latents 3, 10 and 20 copies of latent 7 (ties on every row); input 5 feeding
 * every latent with weight 1; a row whose encoder input is zero (pre = b_enc, which has two equal positive entries:
 * fewer than k, and a tie); a row whose encoder input is −4 on input 5 only (every pre-activation negative); 10 rows
 * of small inputs; and 30 random rows.
 */
function problem(seed: number, applyBDec: boolean): Problem {
  const u = rng(seed);
  const W_enc = new Float32Array(D_IN * D_SAE), W_dec = new Float32Array(D_SAE * D_IN);
  for (let i = 0; i < W_enc.length; i++) W_enc[i] = pick(u, [-2, -1, -0.5, 0, 0.5, 1, 2]);
  for (let i = 0; i < W_dec.length; i++) W_dec[i] = pick(u, [-1, -0.5, -0.25, 0.25, 0.5, 1]);
  for (const j of [3, 10, 20]) for (let t = 0; t < D_IN; t++) W_enc[t * D_SAE + j] = W_enc[t * D_SAE + 7];
  W_enc.fill(1, 5 * D_SAE, 6 * D_SAE);
  const b_enc = new Float32Array(D_SAE).fill(-0.75);
  b_enc[5] = 0.5;
  b_enc[30] = 0.5;
  const b_dec = new Float32Array(D_IN);
  for (let t = 0; t < 5; t++) b_dec[t] = pick(u, [-0.5, -0.25, 0, 0.25, 0.5]);
  const rows = 42;
  const x = new Float32Array(rows * D_IN);
  for (let i = 0; i < x.length; i++) x[i] = pick(u, [-2, -1.5, -1, -0.5, -0.25, 0, 0.25, 0.5, 1, 1.5, 2]);
  // Rows 2–11 are quiet (small inputs), so some have fewer than k positive pre-activations.
  for (let i = 2 * D_IN; i < 12 * D_IN; i++) x[i] = (i % D_IN === 5 ? 0 : pick(u, [-0.25, 0, 0.25])) + (applyBDec ? b_dec[i % D_IN] : 0);
  for (let t = 0; t < D_IN; t++) x[t] = x[D_IN + t] = applyBDec ? b_dec[t] : 0;
  x[D_IN + 5] = -4;
  return { x, rows, W_enc, W_dec, b_enc, b_dec };
}

/** pre = (x − b_dec·apply)·W_enc + b_enc in float64 (exact for these inputs). */
function preActivations(p: Problem, applyBDec: boolean): Float64Array {
  const pre = new Float64Array(p.rows * D_SAE);
  for (let r = 0; r < p.rows; r++) {
    for (let j = 0; j < D_SAE; j++) {
      let s = p.b_enc[j];
      for (let t = 0; t < D_IN; t++) s += (p.x[r * D_IN + t] - (applyBDec ? p.b_dec[t] : 0)) * p.W_enc[t * D_SAE + j];
      pre[r * D_SAE + j] = s;
    }
  }
  return pre;
}

/** CSR latents from a per-row rule over the exact pre-activations. */
function referenceLatents(p: Problem, pre: Float64Array, keep: (row: Float64Array) => number[]): SparseLatents {
  const rowPtr = new Int32Array(p.rows + 1), indices: number[] = [], values: number[] = [];
  for (let r = 0; r < p.rows; r++) {
    const row = pre.subarray(r * D_SAE, (r + 1) * D_SAE);
    for (const j of keep(row).sort((a, b) => a - b)) {
      indices.push(j);
      values.push(row[j]);
    }
    rowPtr[r + 1] = indices.length;
  }
  return { rows: p.rows, d_sae: D_SAE, rowPtr, indices: Int32Array.from(indices), values: Float32Array.from(values) };
}

/** The k largest positive entries, ties to the lower latent (plain sort). */
function topkRule(k: number) {
  return (row: Float64Array): number[] => Array.from(row.keys()).filter((j) => row[j] > 0)
    .sort((a, b) => row[b] - row[a] || a - b).slice(0, k);
}

/** x̂ = b_dec + Σ v·W_dec[j] in float64. */
function referenceReconstruction(p: Problem, lat: SparseLatents): Float64Array {
  const out = new Float64Array(p.rows * D_IN);
  for (let r = 0; r < p.rows; r++) {
    for (let t = 0; t < D_IN; t++) out[r * D_IN + t] = p.b_dec[t];
    for (let q = lat.rowPtr[r]; q < lat.rowPtr[r + 1]; q++) {
      for (let t = 0; t < D_IN; t++) out[r * D_IN + t] += lat.values[q] * p.W_dec[lat.indices[q] * D_IN + t];
    }
  }
  return out;
}

const VARIANTS: ForwardOptions[] = [
  {}, { chunkRows: 1 }, { chunkRows: 3 }, { chunkRows: 7 }, { chunkRows: 41 }, { chunkRows: 42 }, { chunkRows: 1000 },
  { decodePath: "sparse", chunkRows: 5 }, { decodePath: "dense", chunkRows: 4 }, { latents: false, chunkRows: 9 },
  { latents: false, decodePath: "dense" },
];

/** forward, encode and decode under every variant equal the reference latents exactly and x̂ to float32 accuracy. */
function checkAgainstReference(sae: Sae, p: Problem, want: SparseLatents, what: string): void {
  const recon = referenceReconstruction(p, want);
  const l0 = Array.from({ length: p.rows }, (_, r) => want.rowPtr[r + 1] - want.rowPtr[r]);
  for (const options of VARIANTS) {
    const label = `${what} ${JSON.stringify(options)}`;
    const out = sae.forward(p.x, options);
    assert.deepEqual(Array.from(out.l0), l0, `l0, ${label}`);
    if (options.latents === false) assert.equal(out.latents, undefined);
    else assert.deepEqual(out.latents, want, `latents, ${label}`);
    assertClose(out.reconstruction, recon, 1e-6, `reconstruction, ${label}`);
    for (let i = 0; i < out.error.length; i++) assert.equal(out.error[i], Math.fround(p.x[i] - out.reconstruction[i]));
    assert.deepEqual(sae.encode(p.x, options), want, `encode, ${label}`);
    assertClose(sae.decode(want, options), recon, 1e-6, `decode, ${label}`);
  }
  // The tfjs path (dense latents on the backend: tf.topk, step, relu) agrees.
  const xt = tf.tensor2d(p.x, [p.rows, D_IN]);
  const dense = sae.encodeDense(xt);
  // (+ 0 turns the −0 of pre·step(pre − θ) for negative pre into 0)
  assert.deepEqual(Array.from(dense.dataSync(), (v) => v + 0), Array.from(denseOf(want)), `encodeDense, ${what}`);
  const viaTensor = sae.forward(xt, { chunkRows: 8 });
  assert.deepEqual(viaTensor.latents, want, `tensor input, ${what}`);
  tf.dispose([xt, dense]);
}

for (const backend of availableBackends()) {
  test(`topk kernel path on ${backend}: exactly min(k, #positive) latents, ties to the lower index, any chunking`, async () => {
    await initBackend(backend);
    for (const [seed, applyBDec] of [[1, true], [2, false], [3, true]] as const) {
      const p = problem(seed, applyBDec);
      const pre = preActivations(p, applyBDec);
      const want = referenceLatents(p, pre, topkRule(K));
      // The problem has what the test is about: ties, short rows (the zero row when b_dec is applied, or not).
      const counts = Array.from({ length: p.rows }, (_, r) => want.rowPtr[r + 1] - want.rowPtr[r]);
      assert.deepEqual(counts.slice(0, 2), [2, 0], "the zero-input row keeps its two positive latents, the negative row none");
      assert.ok(counts.slice(2).some((c) => c < K) && counts.some((c) => c === K), `short and full random rows (${counts})`);
      let tiesAtCut = 0;
      for (let r = 0; r < p.rows; r++) {
        const kept = want.values.subarray(want.rowPtr[r], want.rowPtr[r + 1]);
        const least = Math.min(...kept);
        const row = pre.subarray(r * D_SAE, (r + 1) * D_SAE);
        if (kept.length === K && row.filter((v) => v === least).length > kept.filter((v) => v === least).length) tiesAtCut++;
      }
      assert.ok(tiesAtCut > 0, "some rows have ties across the top-k boundary");
      const sae = new Sae({ architecture: "topk", d_in: D_IN, d_sae: D_SAE, k: K, applyBDecToInput: applyBDec,
        weights: { W_enc: p.W_enc, W_dec: p.W_dec, b_enc: p.b_enc, b_dec: p.b_dec } });
      checkAgainstReference(sae, p, want, `topk seed ${seed}`);
      sae.dispose();
    }
  });

  test(`topk kernel path on ${backend}: k = 1, 2 and d_sae (with and without the sampled cut-off)`, async () => {
    await initBackend(backend);
    const p = problem(4, true);
    const pre = preActivations(p, true);
    for (const k of [1, 2, D_SAE]) {
      const sae = new Sae({ architecture: "topk", d_in: D_IN, d_sae: D_SAE, k, applyBDecToInput: true,
        weights: { W_enc: p.W_enc, W_dec: p.W_dec, b_enc: p.b_enc, b_dec: p.b_dec } });
      checkAgainstReference(sae, p, referenceLatents(p, pre, topkRule(k)), `topk k=${k}`);
      sae.dispose();
    }
  });

  test(`relu and jumprelu kernel paths on ${backend}: strict thresholds, exactly at the boundary`, async () => {
    await initBackend(backend);
    const p = problem(5, false);
    const pre = preActivations(p, false);
    const relu = new Sae({ architecture: "relu", d_in: D_IN, d_sae: D_SAE, applyBDecToInput: false,
      weights: { W_enc: p.W_enc, W_dec: p.W_dec, b_enc: p.b_enc, b_dec: p.b_dec } });
    checkAgainstReference(relu, p, referenceLatents(p, pre, (row) => Array.from(row.keys()).filter((j) => row[j] > 0)), "relu");
    relu.dispose();
    // Thresholds on the grid of pre-activation values, so many entries sit exactly on θ (inactive); negative θ acts
    // as 0 (SAELens: relu(pre)·1[pre > θ]).
    const theta = new Float32Array(D_SAE);
    for (let j = 0; j < D_SAE; j++) theta[j] = [0.75, 1.25, -0.5, 0, 2][j % 5];
    let onBoundary = 0;
    for (let i = 0; i < pre.length; i++) if (pre[i] === theta[i % D_SAE] && pre[i] > 0) onBoundary++;
    assert.ok(onBoundary > 5, `entries exactly on a positive threshold: ${onBoundary}`);
    const jump = new Sae({ architecture: "jumprelu", d_in: D_IN, d_sae: D_SAE, applyBDecToInput: false,
      weights: { W_enc: p.W_enc, W_dec: p.W_dec, b_enc: p.b_enc, b_dec: p.b_dec, threshold: theta } });
    checkAgainstReference(jump, p, referenceLatents(p, pre, (row) => Array.from(row.keys()).filter((j) => row[j] > theta[j] && row[j] > 0)), "jumprelu");
    jump.dispose();
  });

  test(`topk forward on ${backend} matches the tfjs path on continuous random data`, async () => {
    await initBackend(backend);
    // Wider than the exact problems: n = 300 latents (not a multiple of 4), k = 8, b_enc shifted down so some rows
    // have fewer than k positive pre-activations.
    const d = 16, n = 301, k = 8, rows = 60, u = rng(9);
    const gauss = (len: number, s: number, m = 0) => Float32Array.from({ length: len }, () => m + s * Math.sqrt(-2 * Math.log(u() + 1e-12)) * Math.cos(2 * Math.PI * u()));
    const sae = new Sae({ architecture: "topk", d_in: d, d_sae: n, k, applyBDecToInput: true, weights: {
      W_enc: gauss(d * n, 1 / Math.sqrt(d)), W_dec: gauss(n * d, 1 / Math.sqrt(n)), b_enc: gauss(n, 0.2, -2.2), b_dec: gauss(d, 0.1),
    } });
    const x = gauss(rows * d, 1);
    const xt = tf.tensor2d(x, [rows, d]);
    const f = sae.encodeDense(xt);
    const recon = sae.decodeDense(f);
    const fHost = f.dataSync() as Float32Array, reconHost = recon.dataSync() as Float32Array;
    let short = 0;
    for (let r = 0; r < rows; r++) if (fHost.subarray(r * n, (r + 1) * n).filter((v) => v > 0).length < k) short++;
    assert.ok(short > 0 && short < rows, `rows with fewer than k active: ${short}`);
    for (const options of [{}, { chunkRows: 7 }, { decodePath: "dense" as const }]) {
      const out = sae.forward(x, options);
      assertClose(denseOf(out.latents!), fHost, 1e-5, `latents ${JSON.stringify(options)}`);
      assertClose(out.reconstruction, reconHost, 1e-5, `reconstruction ${JSON.stringify(options)}`);
    }
    tf.dispose([xt, f, recon]);
    sae.dispose();
  });
}

test("a kernel pass drops the encoder for gated SAEs and keeps only the parts asked for", async () => {
  await initBackend();
  const p = problem(6, false);
  const topk = new Sae({ architecture: "topk", d_in: D_IN, d_sae: D_SAE, k: K, applyBDecToInput: false,
    weights: { W_enc: p.W_enc, W_dec: p.W_dec, b_enc: p.b_enc, b_dec: p.b_dec } });
  const both = KernelPass.create(topk, 10, { encode: true, decode: true })!;
  assert.ok(both.canEncode && both.canDecode);
  const encodeOnly = KernelPass.create(topk, 10, { encode: true, decode: false })!;
  assert.ok(encodeOnly.canEncode && !encodeOnly.canDecode);
  assert.throws(() => encodeOnly.decodeRows({ rows: 0, ptr: new Int32Array(1), idx: new Int32Array(0), val: new Float32Array(0) }, new Float32Array(0)), /without decoder/);
  assert.throws(() => both.encodeRows(p.x, 11), /exceed the pass's chunk/);
  topk.dispose();
  const gated = new Sae({ architecture: "gated", d_in: D_IN, d_sae: D_SAE, applyBDecToInput: false, weights: {
    W_enc: p.W_enc, W_dec: p.W_dec, b_dec: p.b_dec, b_gate: p.b_enc, b_mag: p.b_enc, r_mag: new Float32Array(D_SAE) } });
  const g = KernelPass.create(gated, 10, { encode: true, decode: true })!;
  assert.ok(!g.canEncode && g.canDecode);
  assert.equal(KernelPass.create(gated, 10, { encode: true, decode: false }), null);
  gated.dispose();
});

test("the kept pass serves only its own SAE, is never handed out twice, and goes with dispose", async () => {
  await initBackend();
  const p = problem(7, true), q = problem(8, true);
  const make = (w: Problem) => new Sae({ architecture: "topk", d_in: D_IN, d_sae: D_SAE, k: K, applyBDecToInput: true,
    weights: { W_enc: w.W_enc, W_dec: w.W_dec, b_enc: w.b_enc, b_dec: w.b_dec } });
  const a = make(p), b = make(q);
  const wantA = referenceLatents(p, preActivations(p, true), topkRule(K));
  const reconA = referenceReconstruction(p, wantA);
  const first = a.forward(p.x);
  const other = b.forward(p.x); // B recycles A's arena
  assert.notDeepEqual(other.latents, first.latents);
  const again = a.forward(p.x, { chunkRows: 5 });
  assert.deepEqual(again.latents, wantA);
  assertClose(again.reconstruction, reconA, 1e-6, "A after B");

  const held = KernelPass.acquire(a, 4, { encode: true, decode: true })!;
  const second = KernelPass.acquire(a, 4, { encode: true, decode: true })!;
  assert.notEqual(second, held, "a pass in use is not handed out again");
  second.release();
  held.release();
  assert.equal(KernelPass.acquire(a, 3, { encode: false, decode: true }), held, "the released pass serves a smaller request");
  held.release();
  assert.notEqual(KernelPass.acquire(a, 40, { encode: true, decode: true }), held, "but not a larger one");
  held.release();
  const gated = new Sae({ architecture: "gated", d_in: D_IN, d_sae: D_SAE, applyBDecToInput: false, weights: {
    W_enc: p.W_enc, W_dec: p.W_dec, b_dec: p.b_dec, b_gate: p.b_enc, b_mag: p.b_enc, r_mag: new Float32Array(D_SAE) } });
  assert.equal(KernelPass.acquire(gated, 4, { encode: true, decode: false }), null, "nothing to make for a gated encode");
  gated.encode(p.x);
  assert.equal(KernelPass.acquire(a, 4, { encode: true, decode: true }), held, "which leaves the kept pass alone");
  held.release();
  gated.dispose();
  a.dispose();
  assert.notEqual(KernelPass.acquire(b, 4, { encode: true, decode: true })?.sae, a);
  b.dispose();
});
