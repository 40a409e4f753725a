import { test } from "node:test";
import * as assert from "node:assert/strict";
import { InputError } from "../../src/errors";
import { darkMatterBands, fitPowerLaw } from "../../src/darkmatter/powerlaw";
import { normals } from "../helpers/random";

// The paper's seven Gemma Scope widths 2^14 … 2^20.
const W = [16384, 32768, 65536, 131072, 262144, 524288, 1048576];
const law = (c: number, a: number, m: number) => W.map((w) => c + a * Math.pow(w, -m));

test("an exact power law is recovered to ~1e-7 relative", () => {
  for (const [c, a, m] of [[0.12, 40, 0.45], [0.05, 3, 0.2], [0.3, 2000, 1.1], [0, 8, 0.3]]) {
    const f = fitPowerLaw(W, law(c, a, m), { bootstrap: false });
    assert.ok(Math.abs(f.c - c) <= 1e-7 * Math.max(c, 1e-3), `c ${f.c} vs ${c}`);
    assert.ok(Math.abs(f.a - a) / a <= 1e-6, `a ${f.a} vs ${a}`);
    assert.ok(Math.abs(f.m - m) <= 1e-7, `m ${f.m} vs ${m}`);
    assert.ok(f.r2 > 1 - 1e-12);
    for (const w of [1e4, 5e5, 1e7]) assert.ok(Math.abs(f.fitted(w) - (c + a * Math.pow(w, -m))) < 1e-9);
    if (c > 0) assert.equal(f.constraints.cAtZero, false);
  }
});

test("with 0.5 % noise the fit lands near the truth, and the parametric 95 % interval covers c most of the time", () => {
  const truth = { c: 0.12, a: 40, m: 0.45 };
  const clean = law(truth.c, truth.a, truth.m);
  let covered = 0;
  const datasets = 40;
  for (let s = 0; s < datasets; s++) {
    const z = normals(W.length, 100 + s);
    const se = clean.map((v) => 0.005 * v);
    const y = clean.map((v, i) => v + se[i] * z[i]);
    const f = fitPowerLaw(W, y, { standardErrors: se, bootstrap: { resamples: 200, seed: s } });
    assert.ok(Math.abs(f.c - truth.c) < 0.03, `c ${f.c}`);
    assert.ok(Math.abs(f.m - truth.m) < 0.15, `m ${f.m}`);
    assert.equal(f.intervals?.method, "parametric");
    if (f.intervals && f.intervals.c.lo <= truth.c && truth.c <= f.intervals.c.hi) covered++;
  }
  // Nominal 95 %; a broken bootstrap (e.g. zero-width intervals) would cover almost never.
  assert.ok(covered >= 0.8 * datasets, `covered ${covered}/${datasets}`);
});

test("bootstrap is seeded: the same seed gives the same intervals, each method runs", () => {
  const z = normals(W.length, 7);
  const y = law(0.1, 30, 0.4).map((v, i) => v * (1 + 0.01 * z[i]));
  const a = fitPowerLaw(W, y, { bootstrap: { resamples: 100, seed: 3 } });
  const b = fitPowerLaw(W, y, { bootstrap: { resamples: 100, seed: 3 } });
  assert.deepEqual(Array.from(a.intervals!.c.replicates), Array.from(b.intervals!.c.replicates));
  assert.equal(a.intervals!.method, "residuals");
  const p = fitPowerLaw(W, y, { bootstrap: { resamples: 100, seed: 3, method: "points" } });
  assert.equal(p.intervals!.method, "points");
  assert.equal(p.intervals!.c.replicates.length, 100);
  for (const f of [a, p]) {
    assert.ok(f.intervals!.c.lo <= f.c + 1e-9 && f.c - 1e-9 <= f.intervals!.c.hi + 0.05);
    assert.ok(f.intervals!.c.lo >= 0 && f.intervals!.m.lo >= 0 && f.intervals!.a.lo >= 0);
  }
  assert.throws(() => fitPowerLaw(W, y, { bootstrap: { method: "parametric" } }), InputError);
});

test("degenerate cases: constant FVU (a = 0 or m = 0) gives a = 0, m = 0, c = the constant", () => {
  for (const y of [W.map(() => 0.2), law(0.15, 0.05, 0)]) {
    const f = fitPowerLaw(W, y, { bootstrap: false });
    assert.ok(Math.abs(f.c - y[0]) < 1e-12, `c ${f.c}`);
    assert.equal(f.a, 0);
    assert.equal(f.m, 0);
    assert.ok(f.constraints.aAtZero);
    assert.ok(Number.isNaN(f.r2));
    assert.ok(Math.abs(f.fitted(1e9) - y[0]) < 1e-12);
  }
});

test("FVU rising with width cannot be fit with a ≥ 0: the best fit is the flat mean", () => {
  const y = W.map((_, i) => 0.1 + 0.01 * i);
  const f = fitPowerLaw(W, y, { bootstrap: false });
  assert.equal(f.a, 0);
  assert.ok(Math.abs(f.c - 0.13) < 1e-12);
});

test("c ≥ 0 is enforced: a law with a negative asymptote is fit with c = 0", () => {
  const y = law(-0.02, 5, 0.25);
  assert.ok(y.every((v) => v > 0));
  const f = fitPowerLaw(W, y, { bootstrap: false });
  assert.equal(f.c, 0);
  assert.ok(f.constraints.cAtZero);
  assert.ok(f.a > 0 && f.m > 0);
  // It is the constrained optimum: no c = 0 law on a fine grid of m does better.
  for (let m = 0.01; m < 3; m += 0.01) {
    const z = W.map((w) => Math.pow(w, -m));
    const a = z.reduce((s, zi, i) => s + zi * y[i], 0) / z.reduce((s, zi) => s + zi * zi, 0);
    const rss = y.reduce((s, v, i) => s + (v - a * z[i]) ** 2, 0);
    assert.ok(rss >= f.rss - 1e-15);
  }
});

test("an exponent beyond the search range is reported at the bound", () => {
  const f = fitPowerLaw(W, law(0.1, 1e6, 1.5), { bootstrap: false, mRange: [0, 1] });
  assert.ok(f.constraints.mAtUpperBound);
  assert.ok(Math.abs(f.m - 1) < 1e-9);
});

test("relative and inverse-variance weighting recover an exact law too", () => {
  const y = law(0.08, 12, 0.35);
  for (const f of [
    fitPowerLaw(W, y, { weighting: "relative", bootstrap: false }),
    fitPowerLaw(W, y, { weighting: "inverse-variance", standardErrors: y.map((v) => v / 100), bootstrap: false }),
  ]) {
    assert.ok(Math.abs(f.c - 0.08) < 1e-8 && Math.abs(f.m - 0.35) < 1e-7, `${f.weighting}: c ${f.c} m ${f.m}`);
  }
});

test("bad inputs are InputErrors naming the parameter", () => {
  const y = law(0.1, 10, 0.3);
  const cases: [() => unknown, string][] = [
    [() => fitPowerLaw(W.slice(0, 6), y), "fvu"],
    [() => fitPowerLaw([1, 1, 2, 2], [0.3, 0.3, 0.2, 0.2]), "widths"],
    [() => fitPowerLaw(W.map((w, i) => (i === 2 ? -w : w)), y), "widths"],
    [() => fitPowerLaw(W, y.map((v, i) => (i === 1 ? NaN : v))), "fvu"],
    [() => fitPowerLaw(W, y, { mRange: [2, 1] }), "mRange"],
    [() => fitPowerLaw(W, y, { weighting: "inverse-variance" }), "standardErrors"],
    [() => fitPowerLaw(W, y, { bootstrap: { resamples: 0 } }), "bootstrap.resamples"],
  ];
  for (const [fn, source] of cases) {
    assert.throws(fn, (e: unknown) => e instanceof InputError && e.source === source, source);
  }
});

test("bands: observed bands add up to the measured FVU, paper bands to the fitted curve", () => {
  const fvu = law(0.12, 40, 0.45).map((v, i) => v + 0.002 * Math.sin(i));
  const fvuNonlinear = W.map((_, i) => 0.08 + 0.003 * Math.cos(i));
  const pursuit = fvuNonlinear.map((v) => v - 0.004);
  const fit = fitPowerLaw(W, fvu, { bootstrap: false });
  const r = darkMatterBands({ widths: W, fvu, fvuNonlinear, pursuitFvuNonlinear: pursuit, fit });
  const mean = fvuNonlinear.reduce((s, v) => s + v, 0) / W.length;
  assert.ok(Math.abs(r.nonlinearMean - mean) < 1e-15);
  for (let k = 0; k < W.length; k++) {
    assert.ok(Math.abs(r.observed.total[k] - fvu[k]) < 1e-15);
    assert.ok(Math.abs(r.observed.absentFeatures[k] - (fvu[k] - fit.c)) < 1e-15);
    assert.ok(Math.abs(r.observed.linearError[k] - (fit.c - fvuNonlinear[k])) < 1e-15);
    assert.ok(Math.abs(r.observed.encoderError[k] - 0.004) < 1e-12);
    assert.equal(r.observed.nonlinearError[k], pursuit[k]);
    assert.ok(Math.abs(r.paper.total[k] - fit.fitted(W[k])) < 1e-12);
    assert.ok(Math.abs(r.paper.linearError[k] - (fit.c - mean)) < 1e-15);
    assert.ok(Math.abs(r.paper.encoderError[k] - (mean - pursuit[k])) < 1e-15);
  }
  // Dense, extrapolated curves: pursuit interpolated linearly in W between widths and held beyond the last one.
  const at = [16384, 24576, 1048576 * 10];
  const dense = darkMatterBands({ widths: W, fvu, fvuNonlinear, pursuitFvuNonlinear: pursuit, fit }, at);
  assert.ok(Math.abs(dense.paper.nonlinearError[1] - (pursuit[0] + pursuit[1]) / 2) < 1e-15);
  assert.equal(dense.paper.nonlinearError[2], pursuit[6]);
  for (let k = 0; k < at.length; k++) assert.ok(Math.abs(dense.paper.total[k] - fit.fitted(at[k])) < 1e-12);
});

test("bands without pursuit: no encoder band, nonlinear = FVU_nonlinear", () => {
  const fvu = law(0.1, 20, 0.4);
  const fvuNonlinear = W.map(() => 0.07);
  const r = darkMatterBands({ widths: W, fvu, fvuNonlinear, fit: { c: 0.1, a: 20, m: 0.4 } });
  for (let k = 0; k < W.length; k++) {
    assert.equal(r.observed.encoderError[k], 0);
    assert.equal(r.paper.encoderError[k], 0);
    assert.ok(Math.abs(r.paper.nonlinearError[k] - 0.07) < 1e-15);
    assert.ok(Math.abs(r.observed.total[k] - fvu[k]) < 1e-15);
  }
  assert.throws(() => darkMatterBands({ widths: W, fvu, fvuNonlinear, fit: { c: -1, a: 1, m: 1 } }), InputError);
  assert.throws(() => darkMatterBands({ widths: [1, 1], fvu: [1, 1], fvuNonlinear: [1, 1], fit: { c: 0, a: 1, m: 1 } }), InputError);
});
