import { test } from "node:test";
import * as assert from "node:assert/strict";
import type { DecompositionResult } from "../../src/darkmatter/decomposition";
import type { SaeDecomposition } from "../../src/pipeline/decompose-family";
import { predictabilityClaims, widthScaling, widthScalingClaims } from "../../src/pipeline/family-results";

const est = (value: number) => ({ value, interval: null });
function decomp(width: number, l0: number, fvu: number, fvuNonlinear: number, vectorR2 = 0.5, normR2 = 0.95): SaeDecomposition {
  const result = { fvu: est(fvu), fvuNonlinear: est(fvuNonlinear), vectorR2: est(vectorR2), normR2: est(normR2) } as unknown as DecompositionResult;
  return { sae: { path: `w${width}k${l0}`, format: "saelens", width, l0, layer: 3, hook: "blocks.3.hook_resid_post" }, l0Empirical: l0, result };
}

const widths = [128, 256, 512, 1024, 2048, 4096];
const law = (w: number) => 0.05 + 2 * w ** -0.5;

test("widthScaling matches widths at one L0 and recovers the planted power law; the claims hold", () => {
  const decomps = [
    ...widths.map((w) => decomp(w, 16, law(w), 0.04 + 1e-4 * Math.log2(w))),
    decomp(256, 8, 0.3, 0.1), // another L0: not used
  ];
  const ws = widthScaling(decomps);
  assert.equal(ws.l0, 16);
  assert.deepEqual(ws.widths, widths);
  const fit = ws.fit!;
  assert.ok(Math.abs(fit.c - 0.05) < 1e-4 && Math.abs(fit.m - 0.5) < 1e-3, `fit ${fit.c} ${fit.a} ${fit.m}`);
  const claims = widthScalingClaims(ws);
  assert.deepEqual(claims.map((c) => c.holds), [true, true]);
});

test("with fewer than 3 widths there is no fit, and the power-law claim is undecided with the reason", () => {
  const ws = widthScaling([decomp(128, 16, 0.3, 0.2), decomp(1024, 16, 0.2, 0.18)]);
  assert.equal(ws.fit, null);
  assert.match(ws.fitProblem!, /at least 3 widths.*has 2 \(128, 1024\)/);
  const claims = widthScalingClaims(ws);
  assert.equal(claims[0].holds, null);
  assert.match(claims[0].measured, /not fitted/);
  assert.equal(claims[1].holds, null);
});

test("the claims fail when the data do not show the effect", () => {
  const flat = widthScaling(widths.map((w) => decomp(w, 16, law(w), law(w) * 0.9)));
  assert.equal(widthScalingClaims(flat)[1].holds, false, "fvu_nonlinear falling like fvu is not flat");
  const claims = predictabilityClaims([decomp(128, 16, 0.3, 0.35, 0.1, 0.5), decomp(256, 16, 0.2, 0.1, 0.2, 0.6)]);
  assert.deepEqual(claims.map((c) => c.holds), [false, false, false]);
  assert.match(claims[0].measured, /median 0\.150/);
});

// predictabilityClaims: each claim holds, fails, sits just either side of its stated threshold, and is undecided.
const holds = (ds: SaeDecomposition[]) => predictabilityClaims(ds).map((c) => c.holds);
const eps = 1e-9;

test("predictabilityClaims: every claim holds on data that show the effect", () => {
  assert.deepEqual(holds([decomp(128, 16, 0.3, 0.1, 0.45, 0.95), decomp(256, 16, 0.2, 0.08, 0.55, 0.93), decomp(512, 16, 0.15, 0.07, 0.5, 0.97)]),
    [true, true, true]);
});

test("predictabilityClaims: vector R² ≈ 0.5 means a median in [0.3, 0.7], tested just inside and outside both ends", () => {
  const at = (v: number) => holds([decomp(128, 16, 0.3, 0.1, v, 0.95)])[0];
  assert.equal(at(0.3), true); assert.equal(at(0.3 - eps), false); assert.equal(at(0.3 + eps), true);
  assert.equal(at(0.7), true); assert.equal(at(0.7 + eps), false); assert.equal(at(0.7 - eps), true);
  // The median decides, not the mean: two SAEs far outside and three just inside still hold.
  assert.equal(holds([0.05, 0.31, 0.32, 0.33, 0.99].map((v, i) => decomp(128 << i, 16, 0.3, 0.1, v, 0.95)))[0], true);
  assert.equal(holds([0.05, 0.1, 0.29, 0.69, 0.99].map((v, i) => decomp(128 << i, 16, 0.3, 0.1, v, 0.95)))[0], false);
});

test("predictabilityClaims: squared-norm R² must exceed 0.9 strictly", () => {
  const at = (v: number) => holds([decomp(128, 16, 0.3, 0.1, 0.5, v)])[1];
  assert.equal(at(0.9), false); assert.equal(at(0.9 + eps), true); assert.equal(at(0.9 - eps), false);
  // Even number of SAEs: the median is the mean of the middle two (0.89 and 0.91 → 0.90, not above).
  assert.equal(holds([0.5, 0.89, 0.91, 0.99].map((v, i) => decomp(128 << i, 16, 0.3, 0.1, 0.5, v)))[1], false);
  assert.equal(holds([0.5, 0.89, 0.92, 0.99].map((v, i) => decomp(128 << i, 16, 0.3, 0.1, 0.5, v)))[1], true);
});

test("predictabilityClaims: fvu_nonlinear < fvu must hold for every SAE, strictly", () => {
  assert.equal(holds([decomp(128, 16, 0.3, 0.3 - eps), decomp(256, 16, 0.2, 0.1)])[2], true);
  assert.equal(holds([decomp(128, 16, 0.3, 0.3), decomp(256, 16, 0.2, 0.1)])[2], false, "equal is not below");
  assert.equal(holds([decomp(128, 16, 0.3, 0.3 + eps), decomp(256, 16, 0.2, 0.1)])[2], false);
});

test("predictabilityClaims: undecided with no SAEs or a NaN measurement, never true", () => {
  assert.deepEqual(holds([]), [null, null, null]);
  assert.deepEqual(holds([decomp(128, 16, 0.3, 0.1, NaN, 0.95), decomp(256, 16, 0.2, 0.1, 0.5, 0.95)]), [null, true, true]);
  assert.deepEqual(holds([decomp(128, 16, 0.3, 0.1, 0.5, NaN)]), [true, null, true]);
  assert.deepEqual(holds([decomp(128, 16, NaN, 0.1, 0.5, 0.95)]), [true, true, null]);
  assert.deepEqual(holds([decomp(128, 16, 0.3, Infinity, 0.5, 0.95)]), [true, true, null]);
});

test("widthScalingClaims: the fit claim needs a, m, c > 0 and fit R² > 0.9; the flat claim half the spread", () => {
  const base = widthScaling(widths.map((w) => decomp(w, 16, law(w), 0.04)));
  const withFit = (f: Partial<NonNullable<typeof base.fit>>) => widthScalingClaims({ ...base, fit: { ...base.fit!, ...f } })[0].holds;
  assert.equal(withFit({ r2: 0.9 + eps }), true);
  assert.equal(withFit({ r2: 0.9 }), false);
  assert.equal(withFit({ c: 0 }), false, "no positive asymptote");
  assert.equal(withFit({ m: 0 }), false);
  assert.equal(withFit({ a: -1 }), false);
  assert.equal(withFit({ r2: NaN }), null);
  // fvu spread s; fvu_nonlinear spread just below and just above s/2 (values chosen to make the spread exact).
  const fvu = [0.2, 0.3, 0.4]; // spread (0.4 − 0.2) / 0.3 = 2/3
  const flat = (lo: number, hi: number) => widthScalingClaims({ ...base, widths: [128, 256, 512], fvu,
    fvuNonlinear: [lo, (lo + hi) / 2, hi] })[1].holds; // spread (hi − lo) / mean = 2(hi − lo)/(hi + lo)
  // 2(hi − lo)/(hi + lo) = 1/3 at hi/lo = 7/5
  assert.equal(flat(0.1, 0.14 * (1 - 1e-6)), true);
  assert.equal(flat(0.1, 0.14 * (1 + 1e-6)), false);
  assert.equal(flat(0.1, NaN), null);
});
