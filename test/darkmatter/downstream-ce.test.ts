import { test } from "node:test";
import * as assert from "node:assert/strict";
import { initBackend } from "../../src/backend/index";
import { InputError } from "../../src/errors";
import { decomposeSaeError } from "../../src/darkmatter/decomposition";
import { downstreamCe, DownstreamCeInput } from "../../src/darkmatter/downstream-ce";
import { arraySource, LeastSquaresFit } from "../../src/linalg";
import { forward, LlamaParams, toTensors } from "../../src/lm/model";
import { HookName } from "../../src/lm/hooks";
import { normals, rng } from "../helpers/random";
import { randomTokens, randomWeights, SMALL_CONFIG } from "../lm/random-model";

const D = SMALL_CONFIG.dim, T = SMALL_CONFIG.seqLen, HOOK: HookName = "blocks.1.hook_resid_post";
const FROM = 8, TO = T - 2;
let params: LlamaParams;
let contexts: number[][];
const ready = (async () => {
  await initBackend();
  params = toTensors(randomWeights(SMALL_CONFIG, 7));
  contexts = sampleContexts(8, 41);
})();

/**
 * Contexts sampled from the model itself (temperature 1), so that the clean model is the true next-token
 * distribution and any change to its residual stream raises the expected CE (Gibbs' inequality).
 */
function sampleContexts(count: number, seed: number): number[][] {
  const u = rng(seed), V = SMALL_CONFIG.vocabSize;
  const seqs = randomTokens(count, 1, V, seed);
  for (let t = 1; t < T; t++) {
    const logits = forward(params, seqs, { logits: true, loss: false }).logits!;
    for (let b = 0; b < count; b++) {
      const row = logits.subarray((b * t + t - 1) * V, (b * t + t) * V);
      const max = Math.max(...row);
      const p = Array.from(row, (v) => Math.exp(v - max));
      let r = u() * p.reduce((a, v) => a + v, 0), k = 0;
      while (k < V - 1 && r >= p[k]) r -= p[k++];
      seqs[b].push(k);
    }
  }
  return seqs;
}

function zeroMap(): LeastSquaresFit {
  return {
    inputs: D, outputs: D, coefficients: new Float64Array(D * D), intercept: null, rows: 0, droppedNonFinite: 0, rank: D,
    dependentColumns: [], conditionEstimate: 1, warnings: [],
  };
}

/**
 * Orthonormal basis Q [D, k] (Gram–Schmidt of seeded normals); x ↦ act(x·Q)·Qᵀ is a rank-k "SAE" (linear when act is
 * the identity; act maps one token's k coordinates in place).
 */
function projection(k: number, seed: number, act = (_c: Float64Array) => undefined as void): (x: Float32Array, rows: number) => Float32Array {
  const g = normals(D * D, seed);
  const q: Float64Array[] = [];
  for (let a = 0; a < k; a++) {
    const v = Float64Array.from({ length: D }, (_, j) => g[a * D + j]);
    for (const b of q) { let s = 0; for (let j = 0; j < D; j++) s += v[j] * b[j]; for (let j = 0; j < D; j++) v[j] -= s * b[j]; }
    let n = 0; for (let j = 0; j < D; j++) n += v[j] * v[j];
    for (let j = 0; j < D; j++) v[j] /= Math.sqrt(n);
    q.push(v);
  }
  return (x, rows) => {
    const out = new Float32Array(rows * D);
    const c = new Float64Array(k);
    for (let t = 0; t < rows; t++) {
      q.forEach((b, a) => { let s = 0; for (let j = 0; j < D; j++) s += x[t * D + j] * b[j]; c[a] = s; });
      act(c);
      q.forEach((b, a) => { for (let j = 0; j < D; j++) out[t * D + j] += c[a] * b[j]; });
    }
    return out;
  };
}

/** A nonlinear toy SAE: of 16 coordinates in an orthonormal basis, keep the 3 largest (a TopK-like encoder). */
const topkSae = projection(16, 3, (c) => {
  const keep = [...c].sort((a, b) => b - a)[2];
  for (let a = 0; a < c.length; a++) if (c[a] < keep) c[a] = 0;
});

function run(reconstruct: DownstreamCeInput["reconstruct"], linearMap: LeastSquaresFit, batchSize = 2) {
  return downstreamCe({ params, contexts, hook: HOOK, reconstruct, linearMap }, { from: FROM, to: TO, batchSize });
}

/** Captured activations at the hook, positions FROM..TO of every context (the spliced rows). */
function splicedActivations(): Float32Array {
  const cap = forward(params, contexts, { capture: [HOOK], loss: false }).captured.get(HOOK)!;
  const w = TO - FROM + 1, out = new Float32Array(contexts.length * w * D);
  for (let b = 0; b < contexts.length; b++) out.set(cap.subarray((b * T + FROM) * D, (b * T + TO + 1) * D), b * w * D);
  return out;
}

test("CE is the mean loss over loss indices from..to; identity and zero splices reproduce clean and zero-ablation CE exactly", async () => {
  await ready;
  const clean = forward(params, contexts).loss!;
  let want = 0;
  for (let b = 0; b < contexts.length; b++) for (let t = FROM; t <= TO; t++) want += clean[b * (T - 1) + t];
  want /= contexts.length * (TO - FROM + 1);
  const id = run((x) => Float32Array.from(x), zeroMap());
  assert.ok(Math.abs(id.clean - want) < 1e-6, `${id.clean} vs ${want}`);
  assert.equal(id.evaluatedTokens, contexts.length * (TO - FROM + 1));
  for (const v of [id.sae, id.saePlusLinear, id.saePlusNonlinear]) {
    assert.equal(v.ce, id.clean);
    assert.equal(v.ceDelta, 0);
    assert.equal(v.ceRecovered, 1);
  }
  assert.ok(id.zeroAblation.ce > id.clean + 0.05, "zero-ablating the residual hurts");
  assert.equal(id.zeroAblation.ceRecovered, 0);

  const zero = run((_x, rows) => new Float32Array(rows * D), zeroMap());
  assert.equal(zero.sae.ce, zero.zeroAblation.ce);
  assert.equal(zero.sae.ceRecovered, 0);
  assert.equal(zero.clean, id.clean);
  // The zero-ablation CE is the loss of a manual splice of zeros at the same positions.
  const mask = new Uint8Array(contexts.length * T);
  for (let b = 0; b < contexts.length; b++) mask.fill(1, b * T + FROM, b * T + TO + 1);
  const manual = forward(params, contexts, { splice: [{ hook: HOOK, at: { mask }, value: new Float32Array(mask.reduce((a, v) => a + v, 0) * D) }] }).loss!;
  let z = 0;
  for (let b = 0; b < contexts.length; b++) for (let t = FROM; t <= TO; t++) z += manual[b * (T - 1) + t];
  assert.ok(Math.abs(z / id.evaluatedTokens - id.zeroAblation.ce) < 1e-6);
});

test("adding back the whole error (b* = 0, so Sae + NonlinearError = x) reproduces clean CE exactly", async () => {
  await ready;
  const r = run(projection(12, 5), zeroMap());
  assert.ok(r.sae.ceDelta > 0.01, `a rank-12 projection loses CE: ${r.sae.ceDelta}`);
  assert.equal(r.saePlusNonlinear.ce, r.clean);
  assert.equal(r.saePlusLinear.ce, r.sae.ce);
  assert.deepEqual(r.errorCeRecovered, { linear: 0, nonlinear: 1 });
  assert.deepEqual([r.errorShares.energy.linear, r.errorShares.energy.nonlinear, r.errorShares.norm.nonlinear], [0, 1, 1]);
  assert.ok(r.sae.ceRecovered > 0 && r.sae.ceRecovered < 1);
});

test("a linear SAE has only linear error: b* = I − P recovers the whole CE gap through LinearError", async () => {
  await ready;
  const sae = projection(12, 5);
  const x = splicedActivations();
  const dec = decomposeSaeError({ activations: arraySource(x, D, "acts"), sae: { reconstruct: sae } },
    { fitOn: "all", intercept: false, bootstrap: false });
  const r = run(sae, dec.linearMap);
  assert.ok(Math.abs(r.saePlusLinear.ce - r.clean) < 1e-4, `${r.saePlusLinear.ce} vs ${r.clean}`);
  assert.ok(Math.abs(r.saePlusNonlinear.ce - r.sae.ce) < 1e-4, JSON.stringify(r));
  assert.ok(Math.abs(r.errorCeRecovered.linear - 1) < 1e-2 && Math.abs(r.errorCeRecovered.nonlinear) < 1e-2, JSON.stringify(r.errorCeRecovered));
  assert.ok(r.errorShares.energy.linear > 1 - 1e-6 && r.errorShares.energy.nonlinear < 1e-9, JSON.stringify(r.errorShares));
  assert.ok(r.fvuNonlinear < 1e-9 && r.fvu > 0.1);
});

test("a nonlinear SAE: shares are consistent with each other and with the decomposition; batching does not matter", async () => {
  await ready;
  const x = splicedActivations();
  const dec = decomposeSaeError({ activations: arraySource(x, D, "acts"), sae: { reconstruct: topkSae } },
    { fitOn: "all", intercept: true, bootstrap: false });
  const r = run(topkSae, dec.linearMap, 2);
  const s = r.errorShares;
  assert.ok(Math.abs(s.energy.linear + s.energy.nonlinear + s.energy.cross - 1) < 1e-12, JSON.stringify(s));
  // In-sample with an intercept, Pythagoras: no cross term, and the R² shares equal the energy shares.
  assert.ok(Math.abs(s.energy.cross) < 1e-6, JSON.stringify(s));
  assert.ok(Math.abs(s.r2Recovered.linear - (1 - s.energy.nonlinear)) < 1e-9);
  assert.ok(Math.abs(s.r2Recovered.nonlinear - (1 - s.energy.linear)) < 1e-9);
  // (The decomposition saw the activations of one batch of 8, the run batches of 2: float32 rounding differs.)
  assert.ok(Math.abs(r.fvu - dec.fvu.value) < 1e-5 && Math.abs(r.fvuNonlinear - dec.fvuNonlinear.value) < 1e-5);
  assert.ok(s.energy.linear > 0.05 && s.energy.nonlinear > 0.05, JSON.stringify(s.energy));
  assert.ok(s.norm.linear > 0 && s.norm.linear < 1 && s.norm.nonlinear > 0 && s.norm.nonlinear < 1);
  assert.ok(r.sae.ce > r.clean && r.sae.ce < r.zeroAblation.ce, JSON.stringify(r.sae));
  const one = run(topkSae, dec.linearMap, 1), all = run(topkSae, dec.linearMap, 8);
  for (const k of ["clean", "sae", "saePlusLinear", "saePlusNonlinear", "zeroAblation"] as const) {
    const a = k === "clean" ? r.clean : r[k].ce, b1 = k === "clean" ? one.clean : one[k].ce, b5 = k === "clean" ? all.clean : all[k].ce;
    assert.ok(Math.abs(a - b1) < 1e-5 && Math.abs(a - b5) < 1e-5, `${k}: ${a}, ${b1}, ${b5}`);
  }
});

test("CE recovery grows with the rank of a projection SAE", async () => {
  await ready;
  const recovered = [0, 6, 12, 18, 24].map((k) => run(projection(k, 9), zeroMap()).sae.ceRecovered);
  assert.equal(recovered[0], 0);
  assert.ok(Math.abs(recovered[4] - 1) < 1e-3, `full rank: ${recovered[4]}`);
  for (let i = 1; i < recovered.length; i++) assert.ok(recovered[i] > recovered[i - 1], `${recovered}`);
});

test("bad input is an InputError naming the parameter", async () => {
  await ready;
  const bad = (f: () => unknown, source: string) => assert.throws(f, (e: unknown) => e instanceof InputError && e.source === source);
  const base: DownstreamCeInput = { params, contexts, hook: HOOK, reconstruct: (x) => Float32Array.from(x), linearMap: zeroMap() };
  bad(() => downstreamCe(base), "from"); // the paper's 200 does not fit 32-token contexts
  bad(() => downstreamCe(base, { from: 4, to: T - 1 }), "to");
  bad(() => downstreamCe({ ...base, linearMap: { ...zeroMap(), inputs: 3 } }, { from: 4 }), "linearMap");
  bad(() => downstreamCe({ ...base, reconstruct: () => new Float32Array(2) }, { from: 4 }), "reconstruct");
  bad(() => downstreamCe({ ...base, reconstruct: (x) => x.map(() => NaN) }, { from: 4 }), "reconstruct");
  bad(() => downstreamCe({ ...base, hook: "blocks.9.hook_resid_post" }, { from: 4 }), "hook");
  bad(() => downstreamCe({ ...base, contexts: [contexts[0], contexts[1].slice(1)] }, { from: 4 }), "contexts");
  bad(() => downstreamCe(base, { from: 4, batchSize: 0 }), "batchSize");
});
