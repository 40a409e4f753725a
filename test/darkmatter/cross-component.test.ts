import { test } from "node:test";
import * as assert from "node:assert/strict";
import { InputError } from "../../src/errors";
import { componentRows, crossComponentPrediction, CROSS_TARGETS } from "../../src/darkmatter/cross-component";
import { decomposeSaeError } from "../../src/darkmatter/decomposition";
import { SaeInput } from "../../src/darkmatter/common";
import { arraySource, collectRows, trainTestSplit } from "../../src/linalg";
import { normals } from "../helpers/random";

// Planted world: x ~ N(0, I), NonlinearError ν ~ N(0, I) independent of x, SaeError e = c·x + ν (c = 0.5), so b* ≈ c·I,
// LinearError ≈ c·x and NonlinearError ≈ ν. A predictor s = ν + ξ with ξ ~ N(0, I) then has, per dim,
//   R²(nonlinear) = 1/(1 + 1) = 0.5,  R²(SaeError) = cov² / (var(s)·var(e)) = 1 / (2 · 1.25) = 0.4,  R²(linear) = 0,
// and x itself has R²(linear) = 1, R²(SaeError) = c²/(c² + 1) = 0.2, R²(nonlinear) = 0.
const N = 6000, D = 6, C = 0.5;
const x = normals(N * D, 1), nu = normals(N * D, 2), xi = normals(N * D, 3), unrelated = normals(N * 4, 4);
const recon = Float32Array.from(x, (v, i) => v - (C * v + nu[i]));
const target = (): SaeInput => ({ activations: arraySource(x, D, "acts"), sae: { reconstructions: arraySource(recon, D, "recons") } });
const sources = () => [
  { name: "activations", rows: componentRows(target(), "activations") },
  { name: "nonlinear + noise", rows: arraySource(Float32Array.from(nu, (v, i) => v + xi[i]), D, "nl source") },
  { name: "unrelated", rows: arraySource(unrelated, 4, "unrelated") },
];

test("planted linear relationships give their known test R² per (source, target); an unrelated source gives ≈ 0", () => {
  const r = crossComponentPrediction({ target: target(), sources: sources() }, { bootstrap: { resamples: 100 } });
  assert.deepEqual(r.targets, [...CROSS_TARGETS]);
  assert.deepEqual(r.sources, [{ name: "activations", cols: D }, { name: "nonlinear + noise", cols: D }, { name: "unrelated", cols: 4 }]);
  assert.equal(r.rows.train, 3600);
  assert.equal(r.rows.evaluated, 2400);
  assert.equal(r.cells.length, 9);
  assert.deepEqual(r.cells.map((c) => [c.source, c.target]).slice(0, 3), CROSS_TARGETS.map((t) => ["activations", t]));
  const want: Record<string, [number, number, number]> = {
    "activations": [0.2, 1, 0],
    "nonlinear + noise": [0.4, 0, 0.5],
    "unrelated": [0, 0, 0],
  };
  for (const [name, values] of Object.entries(want)) {
    CROSS_TARGETS.forEach((t, k) => {
      const got = r.r2[name][t];
      assert.ok(Math.abs(got - values[k]) < 0.04, `${name} → ${t}: ${got}, planted ${values[k]}`);
    });
  }
  assert.ok(r.r2.activations.linearError > 1 - 1e-9, "LinearError is exactly linear in x");
  for (const c of r.cells) {
    const iv = c.r2.interval!;
    assert.ok(iv.hi >= iv.lo && iv.level === 0.95);
    // (Near R² = 0 the percentile replicates are biased low, so the interval can miss the estimate.)
    if (Math.abs(c.r2.value) > 0.05 && c.r2.value < 0.999) assert.ok(iv.lo <= c.r2.value + 1e-12 && c.r2.value <= iv.hi + 1e-12, `${c.source} → ${c.target}: ${c.r2.value} ${iv.lo}..${iv.hi}`);
    if (c.source === "nonlinear + noise") assert.ok(iv.hi - iv.lo > 1e-3 && iv.hi - iv.lo < 0.1, `${iv.lo}..${iv.hi}`);
  }
  // No information: the unrelated source's test R² is slightly negative or ≈ 0, never meaningfully positive.
  for (const t of CROSS_TARGETS) assert.ok(r.r2.unrelated[t] < 0.01, `${t}: ${r.r2.unrelated[t]}`);
});

test("a given b* (from decomposeSaeError on the same split) gives the same numbers as fitting it here", () => {
  const split = trainTestSplit(N, { trainRows: 3600, seed: 9 });
  const dec = decomposeSaeError(target(), { split, intercept: false, bootstrap: false });
  const a = crossComponentPrediction({ target: target(), sources: sources() }, { split, linearMapIntercept: false, bootstrap: false });
  const b = crossComponentPrediction({ target: target(), sources: sources() }, { split, linearMap: dec.linearMap, bootstrap: false });
  assert.deepEqual([a.linearMap, b.linearMap], [{ source: "train", intercept: false }, { source: "given", intercept: false }]);
  a.cells.forEach((c, i) => assert.ok(Math.abs(c.r2.value - b.cells[i].r2.value) < 1e-9));
  assert.equal(a.cells[0].r2.interval, null);
  // The same-layer reconstruction is a predictor like any other; reconstructions, errors and a function agree.
  const fromErrors: SaeInput = { activations: arraySource(x, D, "acts"), sae: { errors: arraySource(Float32Array.from(x, (v, i) => v - recon[i]), D) } };
  const fromFn: SaeInput = { activations: arraySource(x, D, "acts"), sae: { reconstruct: (xs) => Float32Array.from(xs, (v) => v - C * v) } };
  const viaRecon = collectRows(componentRows(target())), viaErrors = collectRows(componentRows(fromErrors));
  viaRecon.forEach((v, i) => assert.ok(Math.abs(v - viaErrors[i]) < 1e-6));
  const errs = collectRows(componentRows(fromFn, "error"));
  errs.forEach((v, i) => assert.ok(Math.abs(v - C * x[i]) < 1e-6));
  const c = crossComponentPrediction({ target: fromErrors, sources: [{ name: "residual", rows: componentRows(fromErrors) }] }, { split, bootstrap: false });
  const d = crossComponentPrediction({ target: target(), sources: [{ name: "residual", rows: componentRows(target()) }] }, { split, bootstrap: false });
  c.cells.forEach((cell, i) => assert.ok(Math.abs(cell.r2.value - d.cells[i].r2.value) < 1e-6));
});

test("non-finite rows: an InputError naming the source, or dropped and counted", () => {
  const bad = Float32Array.from(xi);
  bad[5 * D + 2] = NaN;
  const srcs = [{ name: "noisy", rows: arraySource(bad, D, "noisy.npy") }];
  assert.throws(() => crossComponentPrediction({ target: target(), sources: srcs }, { bootstrap: false }),
    (e: unknown) => e instanceof InputError && e.source === "noisy.npy" && /row 5/.test(e.problem));
  const r = crossComponentPrediction({ target: target(), sources: srcs }, { dropNonFinite: true, bootstrap: false });
  assert.equal(r.rows.droppedNonFinite, 1);
  assert.equal(r.rows.train + r.rows.evaluated, N - 1);
  assert.ok(r.warnings.some((w) => /dropped 1 row/.test(w)));
});

test("bad input is an InputError naming the parameter", () => {
  const check = (f: () => unknown, source: string) => assert.throws(f, (e: unknown) => e instanceof InputError && e.source === source);
  check(() => crossComponentPrediction({ target: target(), sources: [] }), "sources");
  check(() => crossComponentPrediction({ target: target(), sources: [sources()[0], sources()[0]] }), "sources");
  check(() => crossComponentPrediction({ target: target(), sources: [{ name: "short", rows: arraySource(xi.subarray(0, 60), D, "short") }] }), "short");
  check(() => crossComponentPrediction({ target: target(), sources: sources() }, { linearMap: { ...decomposeSaeError(target(), { bootstrap: false }).linearMap, inputs: 2 } }), "linearMap");
  check(() => crossComponentPrediction({ target: target(), sources: sources() }, { trainRows: 5 }), "trainRows");
  check(() => componentRows(target(), "latents" as "error"), "use");
});
