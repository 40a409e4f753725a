import { test } from "node:test";
import * as assert from "node:assert/strict";
import { InputError } from "../../src/errors";
import { acrossWidthVariation, PAPER_TRACE_WINDOW, perTokenPredictability, perTokenTraces, PerTokenNorms } from "../../src/darkmatter/pertoken";
import { explicitSplit } from "../../src/linalg/split";
import { normals } from "../helpers/random";

// Planted norms over N tokens from independent N(0, 1) factors z, u, v:
//   ‖e_A‖ = 50 + 3z,  ‖NL_A‖ = 30 + u + v,  ‖e_B‖ = 40 + 2z + 2u,  ‖e_C‖ = 5 + 1.1‖e_A‖.
// Then R²(e_B ~ e_A) = corr² = 4/8 = 0.5; adding NL_A (β = 1 on u + v, explaining var 2) gives R² = 6/8 = 0.75, i.e.
// 50 % of the remaining variance; R²(e_C ~ e_A) = 1.
const N = 20000;
const z = normals(N, 1), u = normals(N, 2), v = normals(N, 3);
const eA = Float64Array.from(z, (zi) => 50 + 3 * zi);
const nlA = Float64Array.from(u, (ui, t) => 30 + ui + v[t]);
const eB = Float64Array.from(z, (zi, t) => 40 + 2 * zi + 2 * u[t]);
const eC = Float64Array.from(eA, (e) => 5 + 1.1 * e);
const planted: PerTokenNorms[] = [
  { width: 16384, saeError: eA, nonlinearError: nlA },
  { width: 65536, saeError: eB, nonlinearError: Float64Array.from(u, (ui) => 20 + 0.5 * ui) },
  { width: 262144, saeError: eC, nonlinearError: Float64Array.from(v, (vi) => 20 + vi) },
];

test("planted relationships give the known R² and percent of remaining variance", () => {
  const r = perTokenPredictability(planted, { seed: 4 });
  assert.deepEqual(r.widths, [16384, 65536, 262144]);
  assert.equal(r.tokens.train, 12000);
  assert.equal(r.tokens.test, 8000);
  assert.ok(Math.abs(r.r2[0][1] - 0.5) < 0.02, `R²(B~A) ${r.r2[0][1]}`);
  assert.ok(Math.abs(r.r2[1][0] - 0.5) < 0.02, `R²(A~B) ${r.r2[1][0]}`);
  assert.ok(Math.abs(r.r2[0][2] - 1) < 1e-12);
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(r.r2[i][i] - 1) < 1e-12);
  assert.ok(Math.abs(r.r2WithNonlinear![0][1] - 0.75) < 0.02, `R²(B~A+NL_A) ${r.r2WithNonlinear![0][1]}`);
  assert.ok(Math.abs(r.percentRemainingExplained![0][1] - 50) < 3, `percent ${r.percentRemainingExplained![0][1]}`);
  // NL_B (= 20 + u/2) carries B's part that A lacks: R²(A ~ B + NL_B) = 1 (e_A = 50 + 1.5(e_B − 40 − 4(NL_B − 20))).
  assert.ok(Math.abs(r.r2WithNonlinear![1][0] - 1) < 1e-9);
  assert.ok(Math.abs(r.percentRemainingExplained![1][0] - 100) < 1e-6);
  // Nothing left to explain on the diagonal.
  for (let i = 0; i < 3; i++) assert.ok(Number.isNaN(r.percentRemainingExplained![i][i]));
  // NL_C = 20 + v is independent of e_A: about 0 %.
  assert.ok(Math.abs(r.percentRemainingExplained![2][1]) < 2);
  assert.deepEqual(r.warnings, []);
});

test("test R² uses the test rows only, with the test mean", () => {
  // Train rows follow y = x exactly, test rows are y = x + noise: test R² must see the noise.
  const n = 200;
  const x = Float64Array.from({ length: n }, (_, t) => 10 + (t % 17));
  const noise = normals(n, 8);
  const y = Float64Array.from(x, (xi, t) => (t < 100 ? xi : xi + 3 * noise[t]));
  const split = explicitSplit(n, Array.from({ length: 100 }, (_, t) => t), Array.from({ length: 100 }, (_, t) => 100 + t));
  const r = perTokenPredictability([{ width: 1, saeError: x }, { width: 2, saeError: y }], { split });
  let sse = 0, sst = 0, my = 0;
  for (let t = 100; t < n; t++) my += y[t] / 100;
  for (let t = 100; t < n; t++) { sse += (y[t] - x[t]) ** 2; sst += (y[t] - my) ** 2; }
  assert.ok(Math.abs(r.r2[0][1] - (1 - sse / sst)) < 1e-9);
  assert.equal(r.r2WithNonlinear, null);
  assert.equal(r.percentRemainingExplained, null);
});

test("a nonlinear norm collinear with the SAE-error norm is left out with a warning", () => {
  const r = perTokenPredictability([
    { width: 1, saeError: eA, nonlinearError: Float64Array.from(eA, (e) => 2 * e) },
    { width: 2, saeError: eB, nonlinearError: nlA },
  ]);
  assert.ok(r.warnings.length === 2 && r.warnings[0].includes("collinear"));
  assert.ok(Math.abs(r.r2WithNonlinear![0][1] - r.r2[0][1]) < 1e-12);
});

test("traces cut a contiguous window of every series", () => {
  const t = perTokenTraces(planted, { start: 100, length: 10 });
  assert.deepEqual(Array.from(t.tokenIndex), [100, 101, 102, 103, 104, 105, 106, 107, 108, 109]);
  assert.equal(t.series.length, 3);
  assert.deepEqual(Array.from(t.series[1].saeError), Array.from(eB.subarray(100, 110)));
  assert.deepEqual(Array.from(t.series[0].nonlinearError!), Array.from(nlA.subarray(100, 110)));
  assert.equal(t.series[0].linearError, null);
  const paper = perTokenTraces(planted);
  assert.equal(paper.tokenIndex[0], PAPER_TRACE_WINDOW.start);
  assert.equal(paper.tokenIndex.length, 100);
  assert.throws(() => perTokenTraces(planted, { start: N - 5, length: 10 }), InputError);
});

test("across-width variation: 0 for a per-token constant, |a − b|/2 per token for two widths", () => {
  const a = Float64Array.from({ length: 50 }, (_, t) => 10 + t);
  const r = acrossWidthVariation([
    { width: 1, saeError: a, linearError: a, nonlinearError: a },
    { width: 2, saeError: a.map((x) => x + 4), linearError: a.map((x) => x * 2), nonlinearError: a },
  ]);
  assert.equal(r.nonlinearError!.relativeSpread, 0);
  assert.equal(r.saeError.meanSpread, 2);
  assert.ok(Math.abs(r.saeError.meanNorm - (34.5 + 2)) < 1e-12);
  // linear: spread x/2 per token, mean 1.5x: ratio 1/3 for every token.
  assert.ok(Math.abs(r.linearError!.relativeSpread - 1 / 3) < 1e-12);
  assert.equal(acrossWidthVariation([{ width: 1, saeError: a }]).linearError, null);
});

test("bad inputs are InputErrors naming the field", () => {
  const cases: [() => unknown, string][] = [
    [() => perTokenPredictability([]), "norms"],
    [() => perTokenPredictability([{ width: 1, saeError: eA }, { width: 2, saeError: eB.subarray(1) }]), "norms[1].saeError"],
    [() => perTokenPredictability([{ width: 1, saeError: eA }, { width: 2, saeError: eB.map((x, t) => (t === 5 ? -1 : x)) }]), "norms[1].saeError"],
    [() => perTokenPredictability([{ width: 1, saeError: eA, nonlinearError: nlA.map((x, t) => (t === 3 ? NaN : x)) }]), "norms[0].nonlinearError"],
    [() => perTokenPredictability([{ width: 0, saeError: eA }]), "norms[0].width"],
    [() => perTokenPredictability([{ width: 1, saeError: [1, 2, 3] }]), "norms"],
  ];
  for (const [fn, source] of cases) assert.throws(fn, (e: unknown) => e instanceof InputError && e.source === source, source);
});
