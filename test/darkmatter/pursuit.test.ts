import { test } from "node:test";
import * as assert from "node:assert/strict";
import { InputError } from "../../src/errors";
import { gradientPursuit, PursuitDictionary, PursuitResult } from "../../src/darkmatter/pursuit";
import { normals, rng } from "../helpers/random";

/** Random dictionary with rows of norm ≈ 0.5 … 1.5 (the pursuit uses rows as stored) and a random bias. */
function randomDictionary(n: number, d: number, seed: number): PursuitDictionary {
  const D = normals(n * d, seed);
  const u = rng(seed + 1);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += D[i * d + j] ** 2;
    const scale = (0.5 + u()) / Math.sqrt(s);
    for (let j = 0; j < d; j++) D[i * d + j] *= scale;
  }
  return { decoder: D, latents: n, d, bias: normals(d, seed + 2) };
}

/** The paper's algorithm (plus the safeguard) written plainly for one token, everything in float64. */
function referencePursuit(dict: PursuitDictionary, x: ArrayLike<number>, T: number, safeguard: boolean): Map<number, number> {
  const { decoder: D, latents: n, d } = dict;
  const s = Array.from({ length: d }, (_, j) => x[j] - (dict.bias ? dict.bias[j] : 0));
  const w = new Map<number, number>();
  const residual = (coefs: Map<number, number>) => {
    const r = s.slice();
    for (const [i, v] of coefs) for (let j = 0; j < d; j++) r[j] -= v * D[i * d + j];
    return r;
  };
  const norm2 = (v: number[]) => v.reduce((a, b) => a + b * b, 0);
  for (let k = 0; k < Math.min(T, n); k++) {
    const r = residual(w);
    const g = Array.from({ length: n }, (_, i) => { let v = 0; for (let j = 0; j < d; j++) v += r[j] * D[i * d + j]; return v; });
    let best = -1;
    for (let i = 0; i < n; i++) if (g[i] > 0 && (best < 0 || g[i] > g[best])) best = i;
    const S = [...w.keys()];
    if (best >= 0 && !w.has(best)) S.push(best);
    if (S.length === 0) break;
    const c = new Array(d).fill(0);
    for (const i of S) for (let j = 0; j < d; j++) c[j] += g[i] * D[i * d + j];
    const cc = norm2(c), cr = c.reduce((a, v, j) => a + v * r[j], 0);
    if (!(cc > 0) || !(cr > 0)) break;
    const eta = cr / cc;
    let next = new Map(S.map((i) => [i, Math.max((w.get(i) ?? 0) + eta * g[i], 0)] as [number, number]));
    if (safeguard && norm2(residual(next)) > norm2(r) * (1 + 1e-12)) {
      let etaF = eta;
      for (const i of S) if (g[i] < 0) etaF = Math.min(etaF, -(w.get(i) ?? 0) / g[i]);
      next = new Map(S.map((i) => {
        const v = (w.get(i) ?? 0) + etaF * g[i];
        return [i, g[i] < 0 && v <= 1e-12 * Math.abs(w.get(i) ?? 0) ? 0 : Math.max(v, 0)] as [number, number];
      }));
    }
    w.clear();
    for (const [i, v] of next) if (v > 0) w.set(i, v);
  }
  return w;
}

function codesOf(r: PursuitResult, t: number): Map<number, number> {
  const m = new Map<number, number>();
  for (let p = r.codes.rowPtr[t]; p < r.codes.rowPtr[t + 1]; p++) m.set(r.codes.indices[p], r.codes.values[p]);
  return m;
}

const n = 96, d = 24, tokens = 37;
const dict = randomDictionary(n, d, 11);
const x = normals(tokens * d, 5);
const budgets = Array.from({ length: tokens }, (_, t) => (t * 7) % 13); // 0 … 12, including 0

for (const native of [true, false]) {
  test(`matches the scalar reference implementation (native sgemm: ${native})`, () => {
    for (const safeguard of [true, false]) {
      const r = gradientPursuit(dict, x, budgets, { batchSize: 8, native, safeguard });
      for (let t = 0; t < tokens; t++) {
        const want = referencePursuit(dict, x.subarray(t * d, (t + 1) * d), budgets[t], safeguard);
        const got = codesOf(r, t);
        assert.deepEqual([...got.keys()].sort((a, b) => a - b), [...want.keys()].sort((a, b) => a - b), `token ${t} support`);
        for (const [i, v] of want) assert.ok(Math.abs((got.get(i) as number) - v) <= 1e-5 * Math.max(1, v), `token ${t} latent ${i}: ${got.get(i)} vs ${v}`);
        // Reconstruction = wD + b_dec.
        for (let j = 0; j < d; j++) {
          let v = dict.bias![j];
          for (const [i, wi] of want) v += wi * dict.decoder[i * d + j];
          assert.ok(Math.abs(r.reconstructions[t * d + j] - v) < 1e-4, `token ${t} dim ${j}`);
        }
      }
    }
  });
}

test("never exceeds the budget, codes are non-negative and sorted, residual norm never increases", () => {
  const r = gradientPursuit(dict, x, budgets, { batchSize: 16, recordTokenHistory: true });
  const maxT = Math.max(...budgets);
  assert.equal(r.residualEnergy.length, maxT + 1);
  for (let t = 0; t < tokens; t++) {
    assert.ok(r.l0[t] <= budgets[t], `token ${t}: L0 ${r.l0[t]} > ${budgets[t]}`);
    assert.ok(r.iterations[t] <= budgets[t]);
    assert.equal(r.codes.rowPtr[t + 1] - r.codes.rowPtr[t], r.l0[t]);
    for (let p = r.codes.rowPtr[t]; p < r.codes.rowPtr[t + 1]; p++) {
      assert.ok(r.codes.values[p] > 0);
      if (p > r.codes.rowPtr[t]) assert.ok(r.codes.indices[p] > r.codes.indices[p - 1]);
    }
    const h = r.tokenResidualNorms!.subarray(t * (maxT + 1), (t + 1) * (maxT + 1));
    for (let k = 1; k <= maxT; k++) assert.ok(h[k] <= h[k - 1] * (1 + 1e-12), `token ${t} iteration ${k}: ${h[k]} > ${h[k - 1]}`);
    // The last entry is the final residual norm.
    let e = 0;
    for (let j = 0; j < d; j++) e += (x[t * d + j] - r.reconstructions[t * d + j]) ** 2;
    assert.ok(Math.abs(Math.sqrt(e) - h[maxT]) < 1e-4 * Math.max(1, h[maxT]));
  }
  for (let k = 1; k <= maxT; k++) assert.ok(r.residualEnergy[k] <= r.residualEnergy[k - 1] * (1 + 1e-12));
  // The pursuit does something: with budget 12 the residual falls well below ‖x − b_dec‖.
  assert.ok(r.residualEnergy[maxT] < 0.8 * r.residualEnergy[0]);
});

test("clipping can increase the residual in the paper's algorithm; the safeguard prevents exactly that", () => {
  // Strongly correlated atoms (a shared component) make clipped steps overshoot now and then.
  const nn = 64, dd = 8, toks = 500, T = 15;
  const D = normals(nn * dd, 5);
  for (let i = 0; i < nn; i++) for (let j = 0; j < dd; j += 3) D[i * dd + j] += 1.5;
  const xs = normals(toks * dd, 105);
  const increases = (r: PursuitResult) => {
    let count = 0;
    const h = r.tokenResidualNorms!;
    for (let t = 0; t < toks; t++) for (let k = 1; k <= T; k++) if (h[t * (T + 1) + k] > h[t * (T + 1) + k - 1] * (1 + 1e-12)) count++;
    return count;
  };
  const paper = gradientPursuit({ decoder: D, latents: nn, d: dd }, xs, T, { safeguard: false, recordTokenHistory: true });
  const safe = gradientPursuit({ decoder: D, latents: nn, d: dd }, xs, T, { recordTokenHistory: true });
  assert.ok(increases(paper) > 0, "this case was chosen because the paper's clipping increases the residual");
  assert.equal(paper.safeguardedSteps, 0);
  assert.equal(increases(safe), 0);
  assert.ok(safe.safeguardedSteps > 0);
  assert.ok(safe.residualEnergy[T] <= paper.residualEnergy[T]);
});

test("budget 0 gives the bias as reconstruction and no codes; a scalar budget applies to every token", () => {
  const r0 = gradientPursuit(dict, x, 0);
  assert.equal(r0.codes.indices.length, 0);
  assert.equal(r0.residualEnergy.length, 1);
  for (let t = 0; t < tokens; t++) for (let j = 0; j < d; j++) assert.equal(r0.reconstructions[t * d + j], dict.bias![j]);
  const r3 = gradientPursuit(dict, x, 3);
  assert.ok(Array.from(r3.l0).every((v) => v <= 3) && Array.from(r3.l0).some((v) => v === 3));
});

test("recovers an exact sparse non-negative combination of orthonormal atoms in as many iterations as atoms", () => {
  const dd = 32, nn = 32;
  // Orthonormal rows by Gram–Schmidt of a random matrix.
  const A = Array.from(normals(nn * dd, 3));
  const rows: number[][] = [];
  for (let i = 0; i < nn; i++) {
    const v = A.slice(i * dd, (i + 1) * dd);
    for (const q of rows) { const p = v.reduce((s, vi, j) => s + vi * q[j], 0); for (let j = 0; j < dd; j++) v[j] -= p * q[j]; }
    const norm = Math.sqrt(v.reduce((s, vi) => s + vi * vi, 0));
    rows.push(v.map((vi) => vi / norm));
  }
  const D = Float32Array.from(rows.flat());
  const bias = normals(dd, 4);
  const u = rng(9);
  const toks = 20, k = 5;
  const xs = new Float32Array(toks * dd);
  const truth: Map<number, number>[] = [];
  for (let t = 0; t < toks; t++) {
    const m = new Map<number, number>();
    while (m.size < k) m.set(Math.floor(u() * nn), 0.5 + 2 * u());
    truth.push(m);
    for (let j = 0; j < dd; j++) {
      let v = bias[j];
      for (const [i, w] of m) v += w * D[i * dd + j];
      xs[t * dd + j] = v;
    }
  }
  const r = gradientPursuit({ decoder: D, latents: nn, d: dd, bias }, xs, k);
  for (let t = 0; t < toks; t++) {
    const got = codesOf(r, t);
    assert.deepEqual([...got.keys()].sort((a, b) => a - b), [...truth[t].keys()].sort((a, b) => a - b));
    for (const [i, w] of truth[t]) assert.ok(Math.abs((got.get(i) as number) - w) < 1e-5);
    for (let j = 0; j < dd; j++) assert.ok(Math.abs(r.reconstructions[t * dd + j] - xs[t * dd + j]) < 1e-5);
  }
  // Over the standard basis, a token with only negative or zero correlations (x − b_dec = −e₀ − e₃) gets nothing and
  // stops at once.
  const I = new Float32Array(dd * dd);
  for (let i = 0; i < dd; i++) I[i * dd + i] = 1;
  const neg = Float32Array.from({ length: dd }, (_, j) => bias[j] - (j === 0 || j === 3 ? 1 : 0));
  const rn = gradientPursuit({ decoder: I, latents: dd, d: dd, bias }, neg, 4);
  assert.equal(rn.l0[0], 0);
  assert.equal(rn.iterations[0], 0);
  assert.equal(rn.residualEnergy[4], rn.residualEnergy[0]);
});

test("near-orthogonal overcomplete dictionary: the planted support is found", () => {
  const nn = 512, dd = 256;
  const dictionary = randomDictionary(nn, dd, 21);
  const u = rng(22);
  const toks = 10, k = 3;
  const xs = new Float32Array(toks * dd);
  const truth: Set<number>[] = [];
  for (let t = 0; t < toks; t++) {
    const m = new Map<number, number>();
    while (m.size < k) m.set(Math.floor(u() * nn), 1 + u());
    truth.push(new Set(m.keys()));
    for (let j = 0; j < dd; j++) {
      let v = dictionary.bias![j];
      for (const [i, w] of m) v += w * dictionary.decoder[i * dd + j];
      xs[t * dd + j] = v;
    }
  }
  const r = gradientPursuit(dictionary, xs, 10, { recordTokenHistory: true });
  for (let t = 0; t < toks; t++) {
    const got = codesOf(r, t);
    for (const i of truth[t]) assert.ok(got.has(i), `token ${t} misses latent ${i}`);
    const h = r.tokenResidualNorms!;
    assert.ok(h[t * 11 + 10] < 0.05 * h[t * 11], `token ${t} residual ${h[t * 11 + 10]} of ${h[t * 11]}`);
  }
});

test("bad inputs are InputErrors naming the parameter", () => {
  const cases: [() => unknown, string][] = [
    [() => gradientPursuit({ ...dict, decoder: dict.decoder.subarray(1) }, x, 1), "decoder"],
    [() => gradientPursuit({ ...dict, bias: new Float32Array(3) }, x, 1), "bias"],
    [() => gradientPursuit(dict, x.subarray(1), 1), "x"],
    [() => gradientPursuit(dict, Float32Array.from(x, (v, i) => (i === 30 ? NaN : v)), 1), "x"],
    [() => gradientPursuit(dict, x, [1, 2]), "budgets"],
    [() => gradientPursuit(dict, x, -1), "budgets"],
    [() => gradientPursuit(dict, x, 1.5), "budgets"],
    [() => gradientPursuit(dict, x, 1, { batchSize: 0 }), "batchSize"],
  ];
  for (const [fn, source] of cases) assert.throws(fn, (e: unknown) => e instanceof InputError && e.source === source, source);
});
